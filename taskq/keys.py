"""Every Redis key name taskq uses; no other module spells one.

All keys of one queue carry the hash tag `{queue}`, so that they map to one cluster slot and
every multi-key command or Lua script on a queue stays inside that slot. Global keys (the worker
registry) are never touched together with queue keys in one script.
"""

from __future__ import annotations

import re

from taskq.errors import ConfigurationError

# How long a worker id stays in `departed` after its last failed fetch guard: far longer than
# any BLMOVE timeout (a fetch blocks at most min(1 s, lease / 4)).
DEPARTED_HORIZON_MS = 60_000

_QUEUE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def check_queue_name(queue: str) -> str:
    if not _QUEUE_RE.match(queue):
        raise ConfigurationError(
            f"queue name {queue!r} must be 1-100 characters of letters, digits, '_', '.', ':', '-'"
        )
    return queue


class Keys:
    """Key names under one prefix. Per-queue keys take the queue name as first argument."""

    def __init__(self, prefix: str = "taskq") -> None:
        self.prefix = prefix

    def _q(self, queue: str, *rest: str) -> str:
        return ":".join((self.prefix, "{" + queue + "}", *rest))

    # --- per queue -----------------------------------------------------------------------
    def ready(self, queue: str) -> str:
        """List of encoded jobs waiting to run; LPUSH in, taken from the right (FIFO)."""
        return self._q(queue, "ready")

    def ready_high(self, queue: str) -> str:
        """List of HIGH priority jobs waiting behind others (see place.lua); fetched first."""
        return self._q(queue, "ready", "high")

    def ready_low(self, queue: str) -> str:
        """List of LOW priority jobs waiting behind others; fetched when nothing else waits."""
        return self._q(queue, "ready", "low")

    def ready_lines(self, queue: str) -> list[str]:
        """ready, ready:high, ready:low: the KEYS of place.lua."""
        return [self.ready(queue), self.ready_high(queue), self.ready_low(queue)]

    def active(self, queue: str, worker_id: str) -> str:
        """List of encoded jobs one worker holds; its existence in it is the delivery."""
        return self._q(queue, "active", worker_id)

    def scheduled(self, queue: str) -> str:
        """Sorted set of encoded jobs scored by due time (ms): delays and retries."""
        return self._q(queue, "scheduled")

    def dead(self, queue: str) -> str:
        """Sorted set of dead job ids scored by time of death (ms)."""
        return self._q(queue, "dead")

    def leases(self, queue: str) -> str:
        """Sorted set of worker ids scored by lease expiry (ms)."""
        return self._q(queue, "leases")

    def departed(self, queue: str) -> str:
        """Sorted set of worker ids that lost their lease while a BLMOVE of theirs could still
        land a job in their active list, scored by when (server ms). Recovery reads their
        lists; a member is dropped once its list is empty and DEPARTED_HORIZON_MS have passed
        (a BLMOVE lasts at most its timeout, under a second), so the set stays small."""
        return self._q(queue, "departed")

    def running(self, queue: str) -> str:
        """Hash job id -> 'worker_id|started_ms' of jobs being run now."""
        return self._q(queue, "running")

    def job(self, queue: str, job_id: str) -> str:
        """Hash of one job: payload, status, result or error, times."""
        return self._q(queue, "job", job_id)

    def history(self, queue: str, job_id: str) -> str:
        """List of one job's events (JSON), oldest first."""
        return self._q(queue, "history", job_id)

    def notify(self, queue: str, job_id: str) -> str:
        """List that gets one element when the job reaches done or dead (for result waits)."""
        return self._q(queue, "notify", job_id)

    def known_tasks(self, queue: str) -> str:
        """Hash task name -> latest lease expiry (ms) of a worker on this queue that can run
        it. Bounded: expired fields are dropped on each publish, and the key expires an hour
        after the last lease that backs it."""
        return self._q(queue, "tasks")

    def counter(self, queue: str, outcome: str, minute: int) -> str:
        """Per-minute count of jobs that ended `done` or `failed`."""
        return self._q(queue, "count", outcome, str(minute))

    def events(self, queue: str) -> str:
        """Stream of the queue's job events (enqueued, started, succeeded, ...), appended by
        the scripts that make each change; capped (Settings.events_maxlen / events_max_age)."""
        return self._q(queue, "events")

    def events_beside(self, key: str) -> str:
        """The events stream of the queue that `key` (any per-queue key) belongs to."""
        start = key.index("{")
        return self.events(key[start + 1:key.index("}", start)])

    def waiting(self, queue: str) -> str:
        """Sorted set of job ids waiting for their parents (depends_on), scored by the time
        (ms) a supervisor next checks their parents (the safety net of the fast path)."""
        return self._q(queue, "waiting")

    def deps(self, queue: str, job_id: str) -> str:
        """Hash of a waiting job's parents: p:<ref> -> pending | done | dead, r:<ref> ->
        a parent's result, `pending` (count), `policy` (dead | run). TTL with the job."""
        return self._q(queue, "deps", job_id)

    def dependents(self, queue: str, job_id: str) -> str:
        """Set of 'queue|id' refs of the jobs that wait for this one. TTL with the job."""
        return self._q(queue, "dependents", job_id)

    def limits(self, queue: str) -> str:
        """Hash limit name -> concurrency, of the limits that have parked jobs (for the
        supervisors' release sweep); a field goes when its parked list empties."""
        return self._q(queue, "limits")

    def limit_holders(self, queue: str, name: str) -> str:
        """Hash job id -> worker id: the concurrency permits of one limit (at most its
        concurrency, plus stale ones until the next acquire or release drops them)."""
        return self._q(queue, "limit", name, "holders")

    def limit_parked(self, queue: str, name: str) -> str:
        """List of encoded jobs held back by one limit's concurrency, oldest on the right."""
        return self._q(queue, "limit", name, "parked")

    def limit_slot(self, queue: str, name: str) -> str:
        """The rate limiter's next free start time (ms) for one limit; expires when idle."""
        return self._q(queue, "limit", name, "tat")

    def unique(self, queue: str, key: str) -> str:
        """String: id of the job holding `unique_key` (TTL: unique_for)."""
        return self._q(queue, "unique", key)

    def idempotency(self, queue: str, key: str) -> str:
        """String: id of the job holding `idempotency_key` (TTL: idempotency_ttl)."""
        return self._q(queue, "idem", key)

    def periodic(self, queue: str) -> str:
        """Hash of the periodic schedules whose jobs go to this queue: per schedule its last
        tick, last job, spec (a few fields per schedule name ever run; no TTL)."""
        return self._q(queue, "periodic")

    # --- global --------------------------------------------------------------------------
    def queues(self) -> str:
        """Set of queue names ever enqueued to (for stats and admin)."""
        return f"{self.prefix}:queues"

    def workers(self) -> str:
        """Sorted set of worker ids scored by lease expiry (ms), across queues."""
        return f"{self.prefix}:workers"

    def subscriptions(self) -> str:
        """Hash '<event>|<task name>' -> queue: tasks subscribed to an event name (written by
        workers at start, read by `taskq.emit`)."""
        return f"{self.prefix}:subscriptions"

    def worker_info(self, worker_id: str) -> str:
        """Hash describing one worker: host, pid, queues, started (TTL = lease)."""
        return f"{self.prefix}:worker:{worker_id}"

    def queue_keys(self, queue: str, job_id: str = "x", worker_id: str = "w") -> list[str]:
        """All per-queue key shapes (for slot tests and docs)."""
        return [
            self.ready(queue), self.ready_high(queue), self.ready_low(queue),
            self.active(queue, worker_id), self.scheduled(queue),
            self.dead(queue), self.leases(queue), self.departed(queue), self.running(queue),
            self.job(queue, job_id), self.history(queue, job_id), self.notify(queue, job_id),
            self.counter(queue, "done", 0), self.events(queue), self.limits(queue),
            self.waiting(queue), self.deps(queue, job_id), self.dependents(queue, job_id),
            self.limit_holders(queue, "t"), self.limit_parked(queue, "t"),
            self.limit_slot(queue, "t"),
            self.known_tasks(queue),
            self.unique(queue, "k"), self.idempotency(queue, "k"), self.periodic(queue),
        ]
