"""The lease: a thread that extends this worker's lease well inside its TTL, whatever the
jobs are doing, so a long job is never taken from a live worker. If the lease was taken over
(the worker was paused or cut off for longer than the TTL), it says so and stops the worker."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from taskq.errors import StoreError
from taskq.log import get_logger
from taskq.store import RedisStore


class Heartbeat(threading.Thread):
    def __init__(self, store: RedisStore, worker_id: str, queues: Sequence[str]) -> None:
        super().__init__(name="taskq-heartbeat", daemon=True)
        self.store = store
        self.worker_id = worker_id
        self.queues = list(queues)
        self.interval = store.settings.lease_ttl / 3
        self.lost = threading.Event()
        self.orphaned = threading.Event()  # the supervisor died: finish up and exit
        self.parent = os.getppid()
        self._halt = threading.Event()
        self.log = get_logger(worker=worker_id)

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            if os.getppid() != self.parent and not self.orphaned.is_set():
                # Without its supervisor nobody enforces timeouts or stops this child.
                self.log.error("supervisor-gone", detail="finishing the current job, then "
                               "handing back anything held and exiting")
                self.orphaned.set()
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

    def halt(self) -> None:
        self._halt.set()
