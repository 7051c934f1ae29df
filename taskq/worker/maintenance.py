"""The supervisor's upkeep of its queues, once per tick at most: promote due scheduled jobs,
sweep limits and waiting jobs, run periodic ticks and force cancels, trim dead letters, and
recover the jobs of workers whose lease expired. A part of Supervisor
(taskq/worker/supervisor.py), kept apart to keep each module readable."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from taskq.config import Settings
from taskq.errors import StoreError
from taskq.store import RedisStore
from taskq.worker.child import ChildSpec
from taskq.worker.control_loop import ControlLoop
from taskq.worker.recovery import CRASH, crash_info_from_worker_id, recover_worker
from taskq.workflows import sweep_waiting

TRIM_EVERY = 10.0  # seconds between dead-letter retention passes


class Maintenance:
    """Attributes are Supervisor's."""

    spec: ChildSpec
    settings: Settings
    store: RedisStore
    control: ControlLoop
    children: dict[int, Any]
    log: Any
    maintain_after: float
    next_promote: dict[str, float]
    next_sweep: dict[str, float]
    next_trim: float
    next_lease_scan: float

    def _forget(self, worker_id: str) -> None:
        raise NotImplementedError  # Supervisor's

    # --- scheduled jobs and dead workers -------------------------------------------------
    def maintain(self, force: bool = False) -> None:
        """Promote due scheduled jobs (each queue at most once a second, or at the next due
        time, or when a child deferred a job that is now due), sweep limits and waiting jobs
        (once a second), and recover the jobs of workers whose lease expired."""
        now = time.time()
        if not force and now < self.maintain_after:
            return
        if any(c.slots.take_promote_hint(now) for c in list(self.children.values())):
            self.next_promote = dict.fromkeys(self.spec.queues, now)  # a deferred job is due
        try:
            for queue in self.spec.queues:
                if force or now >= self.next_promote[queue]:
                    moved, nxt = self.store.promote_due(queue)
                    if moved:
                        self.log.debug("jobs-promoted", queue=queue, count=moved)
                    soon = now + 1.0
                    self.next_promote[queue] = min(soon, nxt) if nxt is not None else soon
                if force or now >= self.next_sweep.get(queue, 0.0):
                    self.next_sweep[queue] = now + 1.0
                    self._sweep(queue)
            self._periodic_and_cancels(now)
            if force or now >= self.next_trim:
                self.next_trim = now + TRIM_EVERY
                self._trim_dead()
            if force or now >= self.next_lease_scan:
                self.next_lease_scan = now + max(self.settings.lease_ttl / 4, 0.05)
                self._recover_expired()
        except Exception as exc:  # StoreError, or a bug: log it and go on supervising
            if isinstance(exc, StoreError):
                self.log.warning("maintenance-failed", error=str(exc))
            else:
                self.log.exception("maintenance-failed")
            # Retry in a moment, not every tick. And a Redis we could not reach, the workers
            # likely could not reach either: their leases may have run out while they live.
            # Give them one lease TTL of reachable Redis to beat again before judging any.
            self.maintain_after = now + min(1.0, self.settings.lease_ttl / 4)
            self.next_lease_scan = max(self.next_lease_scan, now + self.settings.lease_ttl)

    def _sweep(self, queue: str) -> None:
        """Once a second: wake jobs parked by a limit whose permits came back, and resolve
        waiting jobs whose parents ended unannounced (a worker died in between)."""
        woken = self.store.sweep_limits(queue)
        if woken:
            self.log.info("parked-jobs-woken", queue=queue, count=woken)
        resolved = sweep_waiting(self.store, queue)
        if resolved:
            self.log.info("waiting-jobs-resolved", queue=queue, count=resolved)

    def _periodic_and_cancels(self, now: float) -> None:
        """Enqueue due periodic ticks; kill the children running force-cancelled jobs
        (taskq/control_loop.py; at most about two calls a second)."""
        for child in self.control.force_cancels(now, self.children.values()):
            if child.kill_reason is None and child.process.is_alive():
                child.kill_reason = "cancel"
                self.log.warning("job-force-cancelled", worker=child.worker_id,
                                 detail="killing the child process; the job ends cancelled")
                os.kill(child.process.pid, signal.SIGKILL)
        self.control.run_periodic(now)

    def _recover_expired(self) -> None:
        for queue in self.spec.queues:
            self._recover_departed(queue)
            for worker_id in self.store.expired_workers(queue):
                crash = crash_info_from_worker_id(worker_id, "lease expired")
                moved = recover_worker(self.store, queue, worker_id, CRASH, crash=crash,
                                       only_if_expired=True, drop_lease=True)
                if moved > 0:
                    self.log.warning("jobs-recovered", queue=queue, count=moved,
                                     worker=worker_id, reason="lease expired")
                if moved >= 0:  # presumed dead: its registry entry would stay forever
                    self._forget(worker_id)

    def _trim_dead(self) -> None:
        """Dead-letter retention (Settings.dead_max, dead_max_age): oldest first, keys and
        all, so dead letters never grow without bound."""
        for queue in self.spec.queues:
            trimmed = self.store.trim_dead(queue)
            if trimmed:
                self.log.info("dead-letters-trimmed", queue=queue, count=trimmed,
                              max=self.settings.dead_max, max_age=self.settings.dead_max_age)

    def _recover_departed(self, queue: str) -> None:
        """A BLMOVE may land a job in the list of a worker presumed dead (see guard.lua):
        recover such lists once the lease is gone, and forget old, empty ones."""
        for worker_id in self.store.departed(queue):
            crash = crash_info_from_worker_id(worker_id, "lease expired")
            moved = recover_worker(self.store, queue, worker_id, CRASH, crash=crash,
                                   only_if_expired=True, drop_lease=True)
            if moved > 0:
                self.log.warning("jobs-recovered", queue=queue, count=moved, worker=worker_id,
                                 reason="landed after its worker was presumed dead")
        self.store.prune_departed(queue)
