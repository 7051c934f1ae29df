"""Read-only views for operators: per-queue stats, workers, one job's story.

Each view costs a fixed number of round trips (pipelines), whatever the number of queues,
so `taskq stats --watch` and an autoscaler polling `taskq stats --json` stay cheap.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from taskq.errors import DecodeError, JobNotFoundError
from taskq.job import decode, peek_id
from taskq.keys import check_queue_name
from taskq.store import RedisStore, translate_errors


@dataclass(frozen=True)
class QueueStats:
    """The signals an autoscaler needs for one queue."""

    queue: str
    ready: int
    scheduled: int
    active: int
    dead: int
    workers: int  # workers holding a live lease on this queue
    done_last_minute: int
    failed_last_minute: int
    oldest_ready_age: float | None  # seconds the next job to run has been waiting
    # Ready jobs and no live worker for longer than UNSERVED_AFTER (since the last worker's
    # lease ended, or as long as the oldest ready job waited): the most common reason for
    # "my job never ran".
    unserved: bool = False
    dead_cap: int = 0  # retention: the dead letters kept at most (Settings.dead_max)

    @property
    def dead_fill(self) -> float:
        """How full the dead letters are, 0..1, against the retention cap."""
        return self.dead / self.dead_cap if self.dead_cap else 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


UNSERVED_AFTER = 60.0  # seconds a ready job waits on a queue no live worker serves


def unserved_notes(rows: list[QueueStats]) -> list[str]:
    """One line per unserved queue: what is wrong and the command that fixes it."""
    return [f"queue {r.queue!r} has {r.ready} ready job{'s' if r.ready != 1 else ''} and no "
            f"live worker for over a minute (the oldest waited {_age(r.oldest_ready_age)}): "
            f"start one with `taskq worker MODULE -q {r.queue}`" for r in rows if r.unserved]


def _age(seconds: float | None) -> str:
    seconds = seconds or 0.0
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


@dataclass(frozen=True)
class WorkerView:
    id: str
    alive: bool
    host: str
    pid: str
    queues: list[str]
    started_at: float | None
    lease_expires_in: float  # seconds; negative when the lease has expired
    jobs: list[dict[str, Any]] = field(default_factory=list)  # id, queue, running_for

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JobStory:
    id: str
    queue: str
    record: dict[str, str]
    history: list[dict[str, Any]]
    payload: dict[str, Any] | None
    payload_error: str | None
    # The workflow around it: parents and dependents as {"ref": "queue|id", "status": ...}.
    parents: list[dict[str, str]] = field(default_factory=list)
    dependents: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sliding_count(current: int, previous: int, now: float) -> int:
    """Jobs in the last 60 s from per-minute buckets: all of this minute's count plus the part
    of the previous minute's that still falls inside the window (assumed spread evenly)."""
    into_minute = (now % 60) / 60
    return round(current + previous * (1 - into_minute))


@translate_errors
def queue_names(store: RedisStore, only: tuple[str, ...] = ()) -> list[str]:
    if only:
        return [check_queue_name(q) for q in only]
    return sorted(q.decode() for q in store.client.smembers(store.keys.queues()))


@translate_errors
def queue_stats(store: RedisStore, queues: list[str], now: float | None = None
                ) -> list[QueueStats]:
    """Two round trips: the counts, then the history of each queue's oldest ready job."""
    now_given, now = now, time.time() if now is None else now
    k, minute, now_ms = store.keys, int(now // 60), int(now * 1000)
    pipe = store.client.pipeline(transaction=False)
    for q in queues:
        # Leases are stamped on the server's clock (the queue's node on a Cluster); judge
        # them on it too.
        lease_now_ms = store.lease_clock_ms(k.leases(q)) if now_given is None else now_ms
        for line in k.ready_lines(q):  # every priority's line
            pipe.llen(line)
        pipe.zcard(k.scheduled(q))
        pipe.hlen(k.running(q))
        pipe.zcard(k.dead(q))
        pipe.zcount(k.leases(q), lease_now_ms, "+inf")
        # One slot's keys: a Cluster's pipeline refuses .mget(), the command itself is fine.
        pipe.execute_command("MGET", *[k.counter(q, outcome, m) for outcome in ("done", "failed")
                                       for m in (minute, minute - 1)])
        pipe.lindex(k.ready(q), -1)
        pipe.hvals(k.known_tasks(q))  # lease expiries: when the last worker left
    replies = pipe.execute()
    # Per queue: the three ready lines (summed: every priority is ready), then the rest.
    rows = [[sum(replies[i:i + 3]), *replies[i + 3:i + 10]]
            for i in range(0, len(replies), 10)]
    waiting = _ready_since(store, queues, [row[6] for row in rows])
    out = []
    for q, row, since in zip(queues, rows, waiting, strict=True):
        done_now, done_before, failed_now, failed_before = (int(c or 0) for c in row[5])
        age = None if since is None else max(0.0, round(now - since, 3))
        ready, live = int(row[0]), int(row[4])
        out.append(QueueStats(
            q, ready, int(row[1]), int(row[2]), int(row[3]), live,
            sliding_count(done_now, done_before, now),
            sliding_count(failed_now, failed_before, now), age,
            unserved=ready > 0 and live == 0 and _unserved_for(row[7], lease_now_ms, age)
            > UNSERVED_AFTER, dead_cap=store.settings.dead_max))
    return out


def _unserved_for(expiries: list[bytes], lease_now_ms: int, age: float | None) -> float:
    """Seconds the queue has had no live worker: since the last lease a worker published
    ended (taskq:{q}:tasks keeps it an hour), else as long as its oldest ready job waited."""
    ended = max((int(e) for e in expiries), default=None)
    if ended is None:
        return age or 0.0
    return max(0.0, (lease_now_ms - ended) / 1000)


def _ready_since(store: RedisStore, queues: list[str], oldest: list[bytes | None]
                 ) -> list[float | None]:
    """When each queue's oldest ready job became ready: its last history entry says (enqueued,
    due after a retry, requeued); the payload's enqueue time is the fallback."""
    pipe = store.client.pipeline(transaction=False)
    ids = [peek_id(raw) if raw else None for raw in oldest]
    for q, job_id in zip(queues, ids, strict=True):
        pipe.lindex(store.keys.history(q, job_id or "-"), -1)
    out: list[float | None] = []
    for raw, last in zip(oldest, pipe.execute(), strict=True):
        if raw is None:
            out.append(None)
            continue
        try:
            entry = json.loads(last) if last else {}
            out.append(float(entry.get("due") or entry.get("eta") or entry["at"]))
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
            out.append(_enqueued_at(raw))
    return out


def _enqueued_at(raw: bytes) -> float | None:
    """The payload's enqueue time, or None for anything a hostile producer could push
    (nesting too deep for the decoder, numbers too big for a float, not an object)."""
    try:
        value = float(json.loads(raw)["enqueued_at"])
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
        return None
    return value if math.isfinite(value) else None


@translate_errors
def workers(store: RedisStore, include_expired: bool = False, now: float | None = None
            ) -> list[WorkerView]:
    """Registered workers with their current jobs (three round trips)."""
    # Leases are stamped on the server's clock; judge them on it too.
    client, k = store.client, store.keys
    now = store.lease_clock_ms(k.workers()) / 1000 if now is None else now
    entries = [(m.decode(), s / 1000) for m, s in client.zrange(k.workers(), 0, -1,
                                                                withscores=True)]
    pipe = client.pipeline(transaction=False)
    for worker_id, _ in entries:
        pipe.hgetall(k.worker_info(worker_id))
    infos = [{a.decode(): b.decode(errors="replace") for a, b in info.items()}
             for info in pipe.execute()]
    held = _running_by_worker(store, queue_names(store), now)
    out = []
    for (worker_id, expiry), info in zip(entries, infos, strict=True):
        alive = expiry > now
        if not alive and not include_expired:
            continue
        out.append(WorkerView(
            worker_id, alive, info.get("host", "?"), info.get("pid", "?"),
            _json_list(info.get("queues")),
            float(info["started_at"]) if info.get("started_at") else None,
            round(expiry - now, 3), held.get(worker_id, [])))
    return out


def _running_by_worker(store: RedisStore, queues: list[str], now: float
                       ) -> dict[str, list[dict[str, Any]]]:
    pipe = store.client.pipeline(transaction=False)
    for q in queues:
        pipe.hgetall(store.keys.running(q))
    held: dict[str, list[dict[str, Any]]] = {}
    for q, running in zip(queues, pipe.execute(), strict=True):
        for job_id, mark in running.items():
            worker_id, _, started = mark.decode(errors="replace").partition("|")
            held.setdefault(worker_id, []).append({
                "id": job_id.decode(errors="replace"), "queue": q,
                "running_for": round(now - int(started) / 1000, 3) if started.isdigit()
                else None})
    return held


def _json_list(text: str | None) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return [text or ""]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def find_queue(store: RedisStore, job_id: str, queues: list[str]) -> str:
    """The queue that keeps a record of this job id (O(1) for generated ids)."""
    found = store.find_job_queue(job_id, queues)
    if found is None:
        raise JobNotFoundError(
            f"no job {job_id} in {'queues ' + ', '.join(queues) if queues else 'any queue'}: "
            f"wrong id, or it "
            f"finished more than the result TTL ago and its record expired")
    return found


def job_story(store: RedisStore, job_id: str, queues: tuple[str, ...] = ()) -> JobStory:
    """Everything kept about one job: record, decoded payload and history."""
    queue = find_queue(store, job_id, [check_queue_name(q) for q in queues])
    record = store.job_record(queue, job_id)
    history = store.history(queue, job_id)
    raw = record.get("payload", "")
    payload: dict[str, Any] | None = None
    error = None
    try:
        payload = asdict(decode(raw.encode()))
    except DecodeError as exc:
        error = str(exc)
    parents, dependents = job_graph(store, queue, job_id, record)
    return JobStory(job_id, queue, record, history, payload, error, parents, dependents)


def job_graph(store: RedisStore, queue: str, job_id: str, record: dict[str, str]
              ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """A job's parents (with their status now, and as this job recorded their end) and the
    jobs waiting for it, with their status (two or three round trips)."""
    refs = json.loads(record.get("parents", "[]"))
    seen = store.deps_record(queue, job_id) if refs else {}
    parents = [{"ref": r, "status": status, "recorded": seen.get(f"p:{r}", "-")}
               for r, (status, _) in zip(refs, store.parent_states(refs), strict=True)]
    below = store.dependents_of(queue, job_id)
    dependents = [{"ref": r, "status": status}
                  for r, (status, _) in zip(below, store.parent_states(below), strict=True)]
    return parents, dependents
