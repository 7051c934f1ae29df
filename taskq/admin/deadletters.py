"""Dead letters: find, requeue, purge, export and import dead jobs.

Each move is one Lua script per job (requeue_dead, purge_dead, import_dead) that starts by
taking the id out of (or putting it into) the dead set, so a job is in exactly one place at
every instant, also when a bulk command is killed half way: the jobs already handled have
moved, the rest are still dead, and running the command again picks up where it stopped.
"""

from __future__ import annotations

import base64
import fnmatch
import getpass
import heapq
import json
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import islice
from typing import Any

from taskq.errors import DecodeError, JobNotFoundError, TaskqError
from taskq.job import decode
from taskq.keys import check_queue_name
from taskq.store import RedisStore, history_entry, translate_errors

EXPORT_VERSION = 1
_LIST_FIELDS = ("task", "error_type", "error", "reason", "attempts")


@dataclass(frozen=True)
class Filters:
    """Which dead jobs a command acts on. Empty filters select every dead job."""

    queues: tuple[str, ...] = ()
    task: str | None = None  # exact name, dotted suffix ("charge_card") or glob
    error: str | None = None  # case-insensitive substring of error type, message or reason
    since_ms: int | None = None  # died at or after
    before_ms: int | None = None  # died before
    limit: int | None = None

    @property
    def narrows(self) -> bool:
        """True when anything beyond the queue selects jobs (used to refuse a bare bulk move)."""
        return any(v is not None for v in (self.task, self.error, self.since_ms,
                                           self.before_ms, self.limit)) or bool(self.queues)

    def matches(self, job: DeadJob) -> bool:
        if self.task and not _task_matches(job.task, self.task):
            return False
        if self.error:
            needle = self.error.lower()
            haystack = " ".join((job.error_type, job.error, job.reason)).lower()
            if needle not in haystack:
                return False
        return True


def _task_matches(name: str, pattern: str) -> bool:
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return name == pattern or name.endswith("." + pattern)


@dataclass(frozen=True)
class DeadJob:
    id: str
    queue: str
    died_at: float  # epoch seconds, the dead set's score
    task: str = ""
    error_type: str = ""
    error: str = ""
    reason: str = ""
    attempts: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ImportPlan:
    """One validated export line, ready to write."""

    id: str
    queue: str
    died_at_ms: int
    fields: dict[str, str | bytes]
    history: list[str]


def operator() -> str:
    """Who ran an admin move, for the job's history."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


class DeadLetters:
    """Queries and moves over the dead sets of one taskq installation."""

    def __init__(self, store: RedisStore, batch: int = 500) -> None:
        self.store = store
        self.client = store.client
        self.keys = store.keys
        self.batch = batch

    # --- queries -----------------------------------------------------------------------------
    @translate_errors
    def queue_names(self, only: Sequence[str] = ()) -> list[str]:
        if only:
            return [check_queue_name(q) for q in only]
        return sorted(q.decode() for q in self.client.smembers(self.keys.queues()))

    def select(self, filters: Filters) -> Iterator[DeadJob]:
        """Matching dead jobs, newest death first, across the chosen queues."""
        streams = [self._scan(q, filters) for q in self.queue_names(filters.queues)]
        merged = heapq.merge(*streams, key=lambda job: -job.died_at)
        return islice(merged, filters.limit) if filters.limit is not None else merged

    def _scan(self, queue: str, filters: Filters) -> Iterator[DeadJob]:
        """One queue's dead set, newest first, paged by score so that jobs leaving or joining
        the set while we read never make us skip one (offsets would)."""
        top: str = "+inf" if filters.before_ms is None else f"({filters.before_ms}"
        bottom = "-inf" if filters.since_ms is None else str(filters.since_ms)
        while True:
            page, full = self._page(queue, top, bottom)
            if not page:
                return
            for job in self._describe(queue, page):
                if filters.matches(job):
                    yield job
            if not full:
                return
            top = f"({int(page[-1][1])}"

    @translate_errors
    def _page(self, queue: str, top: str, bottom: str) -> tuple[list[tuple[str, float]], bool]:
        """Up to a batch of (id, score) below `top`, and whether more may follow."""
        key = self.keys.dead(queue)
        rows = self.client.zrevrangebyscore(key, top, bottom, start=0, num=self.batch,
                                            withscores=True)
        full = len(rows) == self.batch
        if full:
            # Ids tied with the last score may straddle the page end; take all of them now,
            # because the next page starts strictly below that score.
            last = rows[-1][1]
            tied = self.client.zrevrangebyscore(key, last, last, withscores=True)
            rows = [r for r in rows if r[1] != last] + list(tied)
        return [(member.decode(), score) for member, score in rows], full

    @translate_errors
    def _describe(self, queue: str, page: list[tuple[str, float]]) -> list[DeadJob]:
        pipe = self.client.pipeline(transaction=False)
        for job_id, _ in page:
            pipe.hmget(self.keys.job(queue, job_id), _LIST_FIELDS)
        out = []
        for (job_id, score), values in zip(page, pipe.execute(), strict=True):
            text = [(v or b"").decode(errors="replace") for v in values]
            out.append(DeadJob(job_id, queue, score / 1000, *text))
        return out

    def by_ids(self, ids: Sequence[str], queues: Sequence[str] = ()) -> list[DeadJob]:
        """The dead jobs with these ids; JobNotFoundError naming every id that is not dead."""
        names = self.queue_names(queues)
        found = self._locate(ids, names)
        missing = [i for i in ids if i not in found]
        if missing:
            raise JobNotFoundError(
                f"not in dead letters (queues searched: {', '.join(names) or 'none'}): "
                f"{', '.join(missing)}; see `taskq dead list` or `taskq job ID`")
        jobs = []
        for job_id in dict.fromkeys(ids):
            queue, score = found[job_id]
            jobs += self._describe(queue, [(job_id, score)])
        return jobs

    @translate_errors
    def _locate(self, ids: Sequence[str], queues: Sequence[str]) -> dict[str, tuple[str, float]]:
        pipe = self.client.pipeline(transaction=False)
        pairs = [(i, q) for i in ids for q in queues]
        for job_id, queue in pairs:
            pipe.zscore(self.keys.dead(queue), job_id)
        found: dict[str, tuple[str, float]] = {}
        for (job_id, queue), score in zip(pairs, pipe.execute(), strict=True):
            if score is not None:
                found.setdefault(job_id, (queue, score))
        return found

    # --- moves ---------------------------------------------------------------------------------
    @translate_errors
    def requeue(self, job: DeadJob) -> str:
        """Back to the ready list with attempts reset and the id kept.
        Returns "requeued", "gone" (no longer dead) or why it cannot be requeued."""
        k, q = self.keys, job.queue
        raw = self.client.hget(k.job(q, job.id), "payload")
        if raw is None:
            return "gone"
        try:
            nxt = decode(raw).requeued()
        except DecodeError as exc:
            return f"skipped: payload does not decode ({exc}); purge or export it instead"
        entry = history_entry("requeued", by=operator(), previous_attempts=job.attempts or None,
                              requeues=nxt.requeues)
        moved = self.store.requeue_dead(q, job.id, nxt.encode(), entry)
        return "requeued" if moved else "gone"

    @translate_errors
    def purge(self, job: DeadJob) -> bool:
        """Delete the job and everything kept about it; False if it was no longer dead."""
        return self.store.purge_dead(job.queue, job.id)

    # --- export / import -------------------------------------------------------------------------
    @translate_errors
    def export_record(self, job: DeadJob) -> dict[str, Any]:
        """One JSON-lines record: the job hash (binary-safe), its history and time of death."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.job(job.queue, job.id))
        pipe.lrange(self.keys.history(job.queue, job.id), 0, -1)
        record, history = pipe.execute()
        fields: dict[str, str] = {}
        binary: dict[str, str] = {}
        for key, value in record.items():
            try:
                fields[key.decode()] = value.decode()
            except UnicodeDecodeError:
                binary[key.decode()] = base64.b64encode(value).decode()
        fields.pop("status", None)
        fields.pop("died_at", None)
        out: dict[str, Any] = {"v": EXPORT_VERSION, "id": job.id, "queue": job.queue,
                               "died_at_ms": int(job.died_at * 1000), "job": fields,
                               "history": [json.loads(h) for h in history]}
        if binary:
            out["job_base64"] = binary
        return out

    @translate_errors
    def import_one(self, plan: ImportPlan, replace: bool = False) -> str:
        """Write one planned job as dead. Returns "imported" or "exists: <status>". With
        `replace`, a job that is dead here already is overwritten by the file's copy (a
        pending job never is)."""
        entries = [*plan.history, history_entry("imported", by=operator())]
        status = self.store.import_dead(plan.queue, plan.id, plan.died_at_ms, entries,
                                        plan.fields, replace=replace)
        if status is None:
            return "imported"
        return f"exists: {status}"


def parse_export(lines: Iterable[str]) -> list[ImportPlan]:
    """Validate every line before anything is written, so a bad file imports nothing."""
    plans = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            plans.append(_plan(json.loads(line)))
        except (ValueError, KeyError, TypeError, TaskqError) as exc:
            raise TaskqError(f"line {number} of the import is not a taskq dead-letter export "
                             f"record ({exc}); nothing was imported") from None
    return plans


def _plan(obj: dict[str, Any]) -> ImportPlan:
    if obj.get("v") != EXPORT_VERSION:
        raise ValueError(f"export version {obj.get('v')!r}, expected {EXPORT_VERSION}")
    job_id, queue = str(obj["id"]), check_queue_name(str(obj["queue"]))
    if not job_id:
        raise ValueError("empty job id")
    fields: dict[str, str | bytes] = {str(k): str(v) for k, v in dict(obj["job"]).items()}
    for key, value in dict(obj.get("job_base64", {})).items():
        fields[str(key)] = base64.b64decode(value)
    if "payload" not in fields:
        raise ValueError("the job has no payload")
    fields.pop("status", None)
    fields.pop("died_at", None)
    history = [json.dumps(entry) for entry in list(obj.get("history", []))]
    return ImportPlan(job_id, queue, int(obj["died_at_ms"]), fields, history)


class Throttle:
    """Paces a bulk move at `rate` jobs per second (None: as fast as Redis answers).
    The sleep only spaces the moves; no move depends on it for correctness."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next_at = time.monotonic()

    def wait(self, stop: threading.Event | None = None) -> None:
        """Wait for the next slot; returns early once `stop` is set."""
        if not self.interval:
            return
        delay = self.next_at - time.monotonic()
        if delay > 0:
            if stop is not None:
                stop.wait(delay)
            else:
                time.sleep(delay)
        self.next_at = max(self.next_at, time.monotonic() - self.interval) + self.interval
