"""The lease: a thread that extends this worker's lease well inside its TTL, whatever the
jobs are doing, so a long job is never taken from a live worker. If the lease was taken over
(the worker was paused or cut off for longer than the TTL), it says so and stops the worker."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence

from taskq.errors import StoreError
from taskq.log import get_logger
from taskq.store import RedisStore


class Heartbeat(threading.Thread):
    def __init__(self, store: RedisStore, worker_id: str, queues: Sequence[str],
                 on_beat: Callable[[], None] | None = None) -> None:
        super().__init__(name="taskq-heartbeat", daemon=True)
        self.store = store
        self.worker_id = worker_id
        self.queues = list(queues)
        self.interval = store.settings.lease_ttl / 3
        self.lost = threading.Event()
        self.on_beat = on_beat  # after each extended lease: what else lives with it
        self._halt = threading.Event()
        self.log = get_logger(worker=worker_id)

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                alive = self.store.heartbeat(self.worker_id, self.queues)
            except StoreError as exc:
                self.log.warning("heartbeat-failed", error=str(exc))
                continue
            if not alive:
                self.log.error("lease-lost", detail="another worker took this worker's jobs; "
                               "finishing the current job (its write will be refused) and exiting")
                self.lost.set()
                return
            if self.on_beat is not None:
                try:
                    self.on_beat()
                except StoreError as exc:
                    self.log.warning("heartbeat-publish-failed", error=str(exc))

    def halt(self) -> None:
        self._halt.set()


class OrphanWatch(threading.Thread):
    """Watches the supervisor without touching Redis. When it is gone (killed with -9), the
    child finishes its current job and hands back what it holds; and whatever happens then
    (Redis unreachable, a job that never ends), the process exits `grace` seconds later:
    nobody else would ever stop it, since children ignore SIGTERM. Its jobs then come back
    through the lease."""

    def __init__(self, grace: float, exit_code: int, poll: float = 0.5) -> None:
        super().__init__(name="taskq-orphan-watch", daemon=True)
        self.grace = grace
        self.exit_code = exit_code
        self.poll = poll
        self.parent = os.getppid()
        self.orphaned = threading.Event()  # the supervisor died: finish up and exit
        self.log = get_logger()

    def run(self) -> None:
        while os.getppid() == self.parent:
            time.sleep(self.poll)
        self.log.error("supervisor-gone", detail="finishing the current job, then handing "
                       f"back anything held and exiting (at the latest in {self.grace} s)")
        self.orphaned.set()
        time.sleep(self.grace)
        self.log.error("orphan-exit", detail="the job did not end in time after the "
                       "supervisor died; exiting, its jobs come back through the lease")
        os._exit(self.exit_code)
