"""Reads: a job's record, its story, and waiting for its end. Nothing here moves a job
(watch.lua only marks a job as waited for)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from taskq.errors import DecodeError
from taskq.job import decode, queue_of_id
from taskq.store.base import StoreBase, now_ms, translate_errors


class Reads(StoreBase):
    @translate_errors
    def job_record(self, queue: str, job_id: str) -> dict[str, str]:
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.job(queue, job_id))
        pipe.hget(self.keys.running(queue), job_id)
        record, running = pipe.execute()
        return record_view(record, running)

    @translate_errors
    def next_work_at(self, queue: str) -> float | None:
        """When `queue` next has a job to run (epoch s): 0 when one is ready now, else when
        its earliest scheduled job is due; None when it has neither."""
        pipe = self.client.pipeline(transaction=False)
        for line in self.keys.ready_lines(queue):  # every priority's line
            pipe.llen(line)
        pipe.zrange(self.keys.scheduled(queue), 0, 0, withscores=True)
        *ready, first = pipe.execute()
        if any(ready):
            return 0.0
        return first[0][1] / 1000 if first else None

    @translate_errors
    def find_job_queue(self, job_id: str, queues: Sequence[str] = ()) -> str | None:
        """The queue that keeps a record of this job, or None. A generated id names its
        queue (one EXISTS, in that queue's slot: Cluster-safe); a caller's own id is looked
        for in `queues`, by default every known queue (one pipeline)."""
        named = queue_of_id(job_id)
        if named is not None and (not queues or named in queues) and self.client.exists(
                self.keys.job(named, job_id)):
            return named
        candidates = list(queues) or sorted(
            q.decode() for q in self.client.smembers(self.keys.queues()))
        pipe = self.client.pipeline(transaction=False)
        for q in candidates:
            pipe.exists(self.keys.job(q, job_id))
        for q, exists in zip(candidates, pipe.execute(), strict=True):
            if exists:
                return q
        return None

    @translate_errors
    def history(self, queue: str, job_id: str) -> list[dict[str, Any]]:
        """The job's story, oldest first. Enqueue and success are not written as events (the
        hot path stays lean): they are told here from the job hash."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self.keys.job(queue, job_id), "enqueued_at", "status", "finished_at",
                   "worker", "payload")
        pipe.lrange(self.keys.history(queue, job_id), 0, -1)
        (enqueued, status, finished, worker, raw), stored = pipe.execute()
        events = [json.loads(e) for e in stored]
        if enqueued and not (events and events[0].get("event") == "enqueued"):
            events.insert(0, {"at": round(float(enqueued), 3), "event": "enqueued"})
        if status == b"done" and finished:
            attempt = _peek_attempt(raw)
            events.append({"at": round(float(finished), 3), "event": "succeeded",
                           "worker": worker.decode() if worker else None, "attempt": attempt})
        return events

    @translate_errors
    def watch(self, queue: str, job_id: str) -> dict[str, str]:
        """Mark the job as waited for (so that its end is signalled) and return its hash."""
        flat_reply = self.scripts.call(self.client, "watch", [self.keys.job(queue, job_id)], [])
        return pairs(flat_reply)

    @translate_errors
    def wait_for_end(self, queue: str, job_id: str, timeout: float) -> bool:
        """Block on the server until the job ends (done or dead) or timeout; True if ended.
        BLMOVE onto the same list rotates it, so every waiter wakes, and none consumes."""
        key = self.keys.notify(queue, job_id)
        return self._blmove(key, key, timeout) is not None


def record_view(record: dict[bytes, bytes], running: bytes | None) -> dict[str, str]:
    """A job hash as users see it: a queued job that a worker marked running is active, a
    scheduled one past its due time is queued."""
    out = {key.decode(): value.decode(errors="replace") for key, value in record.items()}
    # A delayed or retried job keeps the status "scheduled" in its hash while it runs.
    if out and running and out.get("status") in ("queued", "scheduled"):
        out["status"] = "active"
        out["worker"], _, started = running.decode(errors="replace").partition("|")
        out["started_at"] = str(int(started) / 1000) if started.isdigit() else ""
        return out
    if out.get("status") == "scheduled" and float(out.get("due", 0)) <= now_ms():
        out["status"] = "queued"  # due and promoted (or about to be)
    return out


def pairs(flat_reply: list[bytes]) -> dict[str, str]:
    return {k.decode(): v.decode(errors="replace")
            for k, v in zip(flat_reply[::2], flat_reply[1::2], strict=True)}


def _peek_attempt(raw: bytes | None) -> int | None:
    try:
        return decode(raw).attempt if raw else None
    except DecodeError:
        return None

