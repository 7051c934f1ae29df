"""Limits: admission of a fetched job under its task's rate and concurrency limits, the
release of permits, and the sweep that returns permits of crashed workers (see
taskq/limits.py for the model)."""

from __future__ import annotations

from dataclasses import dataclass

from taskq.limits import Limit
from taskq.records import Delivery
from taskq.store.base import StoreBase, now_ms, translate_errors

ADMITTED, PARKED, DEFERRED, FENCED = "admitted", "parked", "deferred", "fenced"


@dataclass(frozen=True)
class Admission:
    verdict: str  # admitted | parked | deferred | fenced
    due: float | None = None  # for deferred: when its rate slot comes (epoch s)


class Limits(StoreBase):
    @translate_errors
    def acquire(self, d: Delivery, limit: Limit) -> Admission:
        """May this fetched job run now? One script call (acquire.lua)."""
        k, q = self.keys, d.queue
        keys = [k.active(q, d.worker_id), k.running(q), k.limit_holders(q, limit.name),
                k.limit_parked(q, limit.name), k.limit_slot(q, limit.name), k.scheduled(q),
                k.job(q, d.job_id), k.limits(q)]
        args = [d.raw, d.job_id, d.worker_id, now_ms(), limit.concurrency, limit.interval_ms,
                limit.name]
        reply = self.scripts.call(self.client, "acquire", keys, args)
        if isinstance(reply, list):
            return Admission(DEFERRED, int(reply[1]) / 1000)
        return Admission({1: ADMITTED, 0: PARKED}.get(int(reply), FENCED))

    @translate_errors
    def release_permits(self, queue: str, name: str, concurrency: int) -> int:
        """Drop permits of jobs that no longer run; wake parked jobs into the free ones."""
        k = self.keys
        return int(self.scripts.call(
            self.client, "release",
            [k.running(queue), k.limit_holders(queue, name), k.limit_parked(queue, name),
             k.ready(queue), k.limits(queue)], [concurrency, name]))

    @translate_errors
    def sweep_limits(self, queue: str) -> int:
        """Release for every limit with parked jobs (supervisors, once a second)."""
        waiting = self.client.hgetall(self.keys.limits(queue))
        return sum(self.release_permits(queue, name.decode(), int(maxc))
                   for name, maxc in waiting.items())
