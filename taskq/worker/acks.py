"""Batched acknowledgements. A worker running short jobs back to back acknowledges several
finished jobs together, with the fetch of the next ones, in one script call (ack_fetch.lua),
instead of one call per job: fewer round trips and far less client and server work per job.

The price, and its bound: a job that finished but whose acknowledgement still waits here is
handed back and runs again if the worker is killed -9 in that time (a crash that the design
already answers with "at least once"). The wait is bounded by `window` seconds and `max_jobs`
jobs: the runner sends the batch when it is full or when it needs jobs, and a timer thread
sends whatever has waited `window`, whatever the runner is doing (a long job after short ones
does not hold their acknowledgements back). Everything else about a job's end (retries, dead
letters, cancellations, logs and hooks) is unchanged; only the moment of the write moves.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from taskq.context import JobContext
from taskq.errors import StoreConnectionError, StoreError
from taskq.log import get_logger
from taskq.store import Delivery, RedisStore
from taskq.worker import decision as d

DEFAULT_WINDOW = 0.005  # seconds a finished job's acknowledgement may wait
DEFAULT_MAX_JOBS = 32  # acknowledgements sent together at most (also the prefetch cap)


@dataclass
class PendingAck:
    """A job that succeeded, whose acknowledgement is not sent yet."""

    delivery: Delivery
    outcome: d.Outcome
    action: d.Action
    fields: dict[str, Any]
    job: JobContext | None  # for the after_job hook
    log: Any
    finished: float  # time.monotonic()
    uncertain: bool = False  # a send of it failed mid-way: it may have landed


@dataclass
class SentAcks:
    """Acknowledgements the timer sent: the runner finishes them (logs, hooks, dependents)."""

    items: list[PendingAck]
    replies: list[int]


class AckBatch:
    """The finished jobs of one runner waiting to be acknowledged, and the timer that sends
    them when they have waited `window`. One runner per batch (children with one runner)."""

    def __init__(self, store: RedisStore, max_jobs: int = DEFAULT_MAX_JOBS,
                 window: float = DEFAULT_WINDOW) -> None:
        self.store = store
        self.max_jobs = max_jobs
        self.window = window
        self.sent: deque[SentAcks] = deque()  # appended by the timer, taken by the runner
        self._pending: list[PendingAck] = []
        self._cond = threading.Condition()
        self._sending = threading.Lock()  # held while the timer's call is in flight
        self._closed = False
        self._timer: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def start(self) -> AckBatch:
        self._timer = threading.Thread(target=self._run_timer, name="taskq-acks", daemon=True)
        self._timer.start()
        return self

    def add(self, item: PendingAck) -> bool:
        """Queue one acknowledgement; True when the batch is full (send it now)."""
        with self._cond:
            self._pending.append(item)
            if len(self._pending) == 1:
                self._cond.notify()  # the timer starts counting from this one
            return len(self._pending) >= self.max_jobs

    def take(self) -> list[PendingAck]:
        with self._cond:
            items, self._pending = self._pending, []
        return items

    def give_back(self, items: list[PendingAck]) -> None:
        """A send failed: the runner sends these again, first (they may have landed)."""
        for item in items:
            item.uncertain = True
        with self._cond:
            self._pending[:0] = items

    def close(self) -> None:
        """Stop the timer and wait for a send it has in flight: after this, every
        acknowledgement is either sent or still here for the runner's last send."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        with self._sending:
            pass
        if self._timer is not None:
            self._timer.join(1.0)

    def _run_timer(self) -> None:
        log = get_logger()
        while True:
            with self._cond:
                while not self._closed:
                    if not self._pending:
                        self._cond.wait()
                        continue
                    delay = self._pending[0].finished + self.window - time.monotonic()
                    if delay <= 0:
                        break
                    self._cond.wait(delay)
                if self._closed:
                    return
                # Taken under the send lock, so close() waits for this call to land.
                self._sending.acquire()
                items, self._pending = self._pending, []
            try:
                self._send(items, log)
            finally:
                self._sending.release()

    def _send(self, items: list[PendingAck], log: Any) -> None:
        try:
            replies, _ = self.store.ack_and_fetch(
                [(i.delivery, i.fields) for i in items], 0)
        except StoreConnectionError as exc:
            log.warning("redis-unavailable", during="ack", error=str(exc))
            self.give_back(items)
            return
        except StoreError as exc:  # not expected from acks; the runner retries them
            log.warning("ack-failed", error=str(exc))
            self.give_back(items)
            return
        self.sent.append(SentAcks(items, replies))
