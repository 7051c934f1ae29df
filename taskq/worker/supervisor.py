"""The supervisor: starts N child processes, replaces crashed ones, enforces hard timeouts,
runs the scheduled-job promoter and the dead-worker recoverer, and turns signals into an
orderly stop. It is the only part of a worker that installs signal handlers.

Signals: SIGTERM/SIGINT once: stop fetching, let running jobs finish within `grace`, then
kill what is left and requeue its jobs at the head of ready. Twice: do that at once.
SIGUSR1: every child prints its threads' stacks to stderr.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from taskq.config import Settings
from taskq.connection import connect
from taskq.errors import StoreError
from taskq.log import get_logger
from taskq.store import RedisStore
from taskq.worker.child import (
    EXIT_LEASE_LOST,
    EXIT_OK,
    EXIT_RECYCLE,
    ChildSpec,
    child_main,
    make_worker_id,
    runner_count,
)
from taskq.worker.control_loop import ControlLoop
from taskq.worker.maintenance import Maintenance
from taskq.worker.recovery import (
    CRASH,
    SHUTDOWN,
    CrashInfo,
    recover_worker,
)
from taskq.worker.slots import SharedSlots
from taskq.workflows import publish_subscriptions

TICK = 0.05


@dataclass
class Child:
    index: int
    process: Any
    worker_id: str
    slots: SharedSlots
    kill_reason: str | None = None  # "timeout" or "shutdown" when we killed it
    started: float = field(default_factory=time.monotonic)
    timed_out: list[str] = field(default_factory=list)


class Supervisor(Maintenance):
    def __init__(self, spec: ChildSpec, processes: int, grace: float = 25.0,
                 idle_exit: float | None = None) -> None:
        self.spec = replace(spec, orphan_grace=grace)  # orphans exit within the grace too
        self.idle_exit = idle_exit  # stop (as on SIGTERM) after this long without a job
        self.started = time.time()
        self.settings: Settings = spec.settings
        self.processes = processes
        self.grace = grace
        self.stop = self._new_stop_event()
        self.children: dict[int, Child] = {}
        self.pending: dict[int, float] = {}  # child index -> monotonic time to restart it
        self.quick_deaths: dict[int, int] = {}
        self.signals_seen = 0
        self.shutdown_deadline: float | None = None
        self.next_promote = {q: 0.0 for q in spec.queues}
        self.next_lease_scan = 0.0
        self.next_vouch = 0.0
        self.next_trim = 0.0
        self.next_sweep: dict[str, float] = {}  # queue -> next release sweep of its limits
        self.maintain_after = 0.0  # after Redis trouble: no retry before this time
        self.log = get_logger(supervisor=os.getpid())
        self.store = RedisStore(connect(self.settings), self.settings, spec.allow_pickle)
        self.control = ControlLoop(self.store, spec.queues, self.log)

    # --- lifecycle ---------------------------------------------------------------------
    def run(self) -> int:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        old_fd = signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGUSR1, self._on_dump)
        self.log.info("worker-started", queues=list(self.spec.queues), processes=self.processes,
                      threads=self.spec.threads, concurrency=runner_count(self.spec),
                      burst=self.spec.burst,
                      url=self.settings.safe_url)
        try:
            with contextlib.suppress(StoreError):  # retried by nobody: producers that
                publish_subscriptions(self.store)  # import the tasks reach them anyway
            self.maintain(force=True)
            for index in range(self.processes):
                self._start_child(index)
            while self.children or self.pending:
                self._wait(wake_r)
                self._tick()
        except Exception:
            # A supervisor that cannot go on must not leave children behind (they ignore
            # SIGTERM, and Python's exit would wait for them forever): kill them, hand their
            # jobs back, and exit non-zero so that the process manager restarts the worker.
            self.log.exception("supervisor-crashed")
            self._abandon()
            return 1
        finally:
            signal.set_wakeup_fd(old_fd)
            os.close(wake_r)
            os.close(wake_w)
        self.log.info("worker-stopped")
        return 0

    def _abandon(self) -> None:
        self._kill_all("shutdown")
        for child in self.children.values():
            child.process.join(10)
            with contextlib.suppress(Exception):
                self._recover_child(child, child.process.exitcode)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signals_seen += 1  # only a counter: the loop acts on it (handlers must not log)

    def _on_dump(self, signum: int, frame: Any) -> None:
        for child in self.children.values():
            if child.process.pid:
                os.kill(child.process.pid, signal.SIGUSR1)

    def _wait(self, wake_r: int) -> None:
        ready, _, _ = select.select([wake_r], [], [], TICK)
        if ready:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_r, 512)

    def _tick(self) -> None:
        if self.signals_seen and self.shutdown_deadline is None:
            self.log.info("worker-stopping", grace=self.grace)
            self.stop.set()
            self.shutdown_deadline = time.monotonic() + self.grace
        if self.signals_seen > 1 or (self.shutdown_deadline is not None
                                      and time.monotonic() > self.shutdown_deadline):
            self._kill_all("shutdown")
        self._check_timeouts()
        self._check_idle()
        self._reap()
        self._start_pending()
        self._vouch()
        if not self.stop.is_set():
            self.maintain()

    # --- children -------------------------------------------------------------------------
    def _start_child(self, index: int) -> None:
        token = uuid.uuid4().hex[:8]
        slots = self._new_slots(runner_count(self.spec))
        process = self._new_child(index, token, slots)
        process.start()
        assert process.pid is not None
        worker_id = make_worker_id(process.pid, token)
        self.children[index] = Child(index, process, worker_id, slots)

    # The three hooks below are what the single-process worker (taskq.worker.inline)
    # overrides: a thread for the child, and neither a process-shared event nor shared memory.
    def _new_stop_event(self) -> Any:
        import multiprocessing

        self.ctx = multiprocessing.get_context("fork")
        return self.ctx.Event()

    def _new_slots(self, count: int) -> SharedSlots:
        return SharedSlots(count)

    def _new_child(self, index: int, token: str, slots: SharedSlots) -> Any:
        """A child process (forked, not started)."""
        return self.ctx.Process(
            target=child_main, name=f"taskq-child-{index}",
            args=(self.spec, token, self.stop, [slots.slot(i) for i in range(slots.count)]))

    def _kill(self, child: Child, reason: str) -> None:
        """Stop a child at once ("timeout" or "shutdown"); it is reaped and its jobs
        recovered on the next tick."""
        child.kill_reason = reason
        os.kill(child.process.pid, signal.SIGKILL)

    def _kill_all(self, reason: str) -> None:
        for child in list(self.children.values()):
            if child.process.is_alive() and child.kill_reason is None:
                self._kill(child, reason)

    def _check_idle(self) -> None:
        """--idle-exit: no job started or ended in any child for that long: stop gracefully,
        so that a platform can scale workers to zero."""
        if self.idle_exit is None or self.signals_seen or not self.children:
            return
        if any(child.slots.busy() for child in self.children.values()):
            return
        last = max([self.started, *(c.slots.last_active.value for c in self.children.values())])
        if time.time() - last >= self.idle_exit:
            self.log.info("worker-idle-exit", idle_seconds=round(time.time() - last, 1))
            self.signals_seen = 1

    def _check_timeouts(self) -> None:
        now = time.monotonic()  # the runners' deadlines are on this clock too
        for child in self.children.values():
            overdue = child.slots.overdue(now)
            if overdue and child.kill_reason is None and child.process.is_alive():
                child.timed_out = overdue
                self.log.error("job-timed-out", job_ids=overdue, worker=child.worker_id,
                               detail="killing the child process; the job is retried if it "
                               "has retries left, else dead-lettered (see the next line)")
                self._kill(child, "timeout")

    def _reap(self) -> None:
        for index, child in list(self.children.items()):
            if child.process.is_alive():
                continue
            child.process.join()
            code = child.process.exitcode
            self._recover_child(child, code)
            del self.children[index]
            restart = not self.stop.is_set() and not (self.spec.burst and code == EXIT_OK)
            if self.spec.burst and child.kill_reason == "timeout":
                restart = True  # the burst is not over just because one job hung
            if restart:
                self._schedule_restart(index, child, code)

    def _schedule_restart(self, index: int, child: Child, code: int | None) -> None:
        """Restart at once, unless the child keeps dying young (Redis down at start, a
        broken import): then back off, up to 10 s, instead of spinning."""
        died_young = code not in (EXIT_OK, EXIT_RECYCLE) and (
            time.monotonic() - child.started < 2.0)
        self.quick_deaths[index] = self.quick_deaths.get(index, 0) + 1 if died_young else 0
        delay = min(10.0, 0.25 * 2 ** self.quick_deaths[index]) if died_young else 0.0
        self.pending[index] = time.monotonic() + delay

    def _start_pending(self) -> None:
        if self.stop.is_set():
            self.pending.clear()
            return
        now = time.monotonic()
        for index, when in list(self.pending.items()):
            if now >= when:
                del self.pending[index]
                self._start_child(index)

    def _recover_child(self, child: Child, code: int | None) -> None:
        mode, crash = SHUTDOWN, None
        if child.kill_reason is None and code not in (EXIT_OK, EXIT_LEASE_LOST, EXIT_RECYCLE):
            mode = CRASH
            sig = signal_name(-code) if code is not None and code < 0 else None
            reason = f"killed by {sig}" if sig else f"exited with code {code}"
            crash = CrashInfo(socket.gethostname(), child.process.pid, sig, reason)
            self.log.error("worker-child-died", worker=child.worker_id, reason=reason)
        elif code == EXIT_LEASE_LOST:
            self.log.warning("worker-child-replaced", worker=child.worker_id,
                             reason="lease lost")
        # The jobs it was running count the crash; what else it held (fetched ahead, or
        # ended with the ack waiting) did not kill it. Nothing running: killed from outside
        # (SIGKILL) between jobs, nobody counts; broken in taskq's own code (an error exit,
        # SIGSEGV), all count, so a job that breaks the runner still ends as poison.
        running: set[str] | None = set(child.slots.running())
        if not running and code != -signal.SIGKILL:
            running = None
        recovered = True
        for queue in self.spec.queues:
            try:
                moved = recover_worker(self.store, queue, child.worker_id, mode, crash=crash,
                                       timed_out=child.timed_out, drop_lease=True,
                                       running=running)
            except StoreError as exc:
                # The lease will expire and another worker (or this one) recovers the jobs.
                self.log.warning("recover-failed", worker=child.worker_id, error=str(exc))
                recovered = False
                continue
            if moved:
                self.log.warning("jobs-recovered", queue=queue, count=moved,
                                 worker=child.worker_id, mode=mode,
                                 reason=child.kill_reason or (crash.reason if crash else ""))
        if child.timed_out:
            self._log_timeout_outcomes(child.timed_out)
        if recovered:  # a killed child cannot unregister itself; keep no trace of it
            self._forget(child.worker_id)

    def _log_timeout_outcomes(self, job_ids: list[str]) -> None:
        """Say where each timed-out job went: retried later, or dead letters when it had no
        retries left (recovery decided; the job's record tells)."""
        for job_id in job_ids:
            for queue in self.spec.queues:
                try:
                    record = self.store.job_record(queue, job_id)
                except StoreError:
                    break
                if record.get("status") in ("scheduled", "queued"):
                    self.log.warning("job-retrying", job_id=job_id, queue=queue,
                                     reason="timed out", task=record.get("task"))
                elif record.get("status") == "dead":
                    self.log.error("job-dead-lettered", job_id=job_id, queue=queue,
                                   reason="timed out", task=record.get("task"),
                                   detail="no retries left")
                else:
                    continue
                break

    def _forget(self, worker_id: str) -> None:
        try:
            self.store.unregister(worker_id, ())
        except StoreError as exc:
            self.log.warning("worker-unregister-failed", worker=worker_id, error=str(exc))

    def _vouch(self) -> None:
        """Renew the leases of the children that are alive (reaped just before), every third
        of the lease: a child whose heartbeat thread is starved (a task holding the GIL in C
        code) keeps its jobs; only a dead or frozen worker loses them."""
        now = time.monotonic()
        if now < self.next_vouch:
            return
        self.next_vouch = now + self.settings.lease_ttl / 3
        alive = [c.worker_id for c in self.children.values()
                 if c.kill_reason is None and c.process.is_alive()]
        if not alive:
            return
        try:
            self.store.vouch(alive, self.spec.queues)
        except StoreError as exc:
            self.log.warning("vouch-failed", error=str(exc))

def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # real-time signals have no name
        return f"signal {number}"
