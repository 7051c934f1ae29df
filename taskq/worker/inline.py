"""`taskq worker --single-process`: the supervisor and its one child in one process, for the
smallest memory footprint (one interpreter instead of two).

The child's work (`run_child`: connection, lease, heartbeat, runner threads) runs in a thread
of the supervisor's process; the supervisor's loop (signals, scheduled jobs, dead workers,
hard timeouts) stays in the main thread. What changes, because a thread cannot be killed:

- Hard timeout: the job is handed back as timed out (retried or dead-lettered, exactly as
  after a child kill), then the process replaces itself (`os.execv`, same pid and arguments)
  and starts afresh.
- Shutdown past the grace period (or a second signal): the jobs still held go back to the head
  of ready, then the process exits at once.
- A crash of the process (kill -9, OOM) has no supervisor outside it to hand the jobs back at
  once: they come back when its lease expires (`--lease`, 5 s by default), through any
  worker's scan, or this one's after it is restarted.
- The lease is renewed by the heartbeat thread only (no second process vouches for it), so a
  task that holds the GIL in C code for longer than the lease can lose its jobs to another
  worker; use the default (forked) worker for such tasks.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from taskq.worker.child import EXIT_ERROR, ChildSpec, make_worker_id, run_child
from taskq.worker.runner import Slot
from taskq.worker.slots import SharedSlots
from taskq.worker.supervisor import Child, Supervisor


class ThreadChild:
    """What the supervisor needs of a child process (start, pid, is_alive, join, exitcode),
    as a thread of this process."""

    def __init__(self, spec: ChildSpec, token: str, stop: Any, slots: SharedSlots,
                 index: int) -> None:
        self.pid = os.getpid()
        self.exitcode: int | None = None
        self.spec, self.worker_id, self.stop = spec, make_worker_id(self.pid, token), stop
        self.slots: list[Slot] = [slots.slot(i) for i in range(slots.count)]
        self._thread = threading.Thread(target=self._run, name=f"taskq-child-{index}",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        code = EXIT_ERROR
        try:
            code = run_child(self.spec, self.worker_id, self.stop, self.slots, supervised=False)
        finally:
            self.exitcode = code

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


class InlineSupervisor(Supervisor):
    def __init__(self, spec: ChildSpec, grace: float = 25.0,
                 idle_exit: float | None = None) -> None:
        super().__init__(spec, 1, grace, idle_exit)

    def _new_stop_event(self) -> Any:
        return threading.Event()

    def _new_slots(self, count: int) -> SharedSlots:
        return SharedSlots(count, shared=False)

    def _new_child(self, index: int, token: str, slots: SharedSlots) -> Any:
        return ThreadChild(self.spec, token, self.stop, slots, index)

    def _on_dump(self, signum: int, frame: Any) -> None:
        import faulthandler

        faulthandler.dump_traceback(all_threads=True)

    def _kill(self, child: Child, reason: str) -> None:
        """A thread cannot be killed: hand back what it holds (as timed out, or requeued on
        shutdown), then leave it behind: exec afresh after a timeout, exit after shutdown."""
        child.kill_reason = reason
        self._recover_child(child, None)
        restart = reason == "timeout" and not self.stop.is_set()
        if restart:
            self.log.warning("worker-restarting", reason="a job ran past its timeout",
                             detail="single-process worker: replacing the process")
        else:
            self.log.info("worker-stopped")
        sys.stdout.flush()
        sys.stderr.flush()
        if restart:
            os.execv(sys.executable, [sys.executable, "-m", "taskq", *sys.argv[1:]])
        os._exit(0 if self.signals_seen else 1)  # else: the supervisor loop itself failed
