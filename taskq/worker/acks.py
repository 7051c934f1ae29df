"""Batched acknowledgements. A worker running short jobs back to back acknowledges several
finished jobs together, with the fetch of the next ones, in one script call (ack_fetch.lua),
instead of one call per job: fewer round trips and far less client and server work per job.

The price, and its bound: a job that finished but whose acknowledgement still waits here is
handed back and runs again if the worker is killed -9 in that time (a crash that the design
already answers with "at least once"). The wait is bounded by `window` seconds and `max_jobs`
jobs: the runner sends the batch when it is full or when it needs jobs, and a timer thread
sends whatever has waited `window`, whatever the runner is doing (a long job after short ones
does not hold their acknowledgements back). Everything else about a job's end (retries, dead
letters, cancellations) is unchanged; only the moment of the write moves, and with it the
job's log line and after_job hook (a batch's come after the next job's before_job). Jobs
fetched ahead never wait long behind a slow one: past LONG_JOB they go back to ready.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from taskq.context import JobContext
from taskq.log import get_logger
from taskq.store import Delivery, RedisStore
from taskq.worker import decision as d

HAS_DEPENDENTS = 2  # an ack's reply: done, and jobs wait for this one (ack.lua)
DEFAULT_WINDOW = 0.005  # seconds a finished job's acknowledgement may wait
DEFAULT_MAX_JOBS = 32  # acknowledgements sent together at most (also the prefetch cap)
QUIET_LOOKS = 20  # the timer looks less often after this many looks found nothing waiting
QUIET_LOOK_EVERY = 0.5  # s between looks then (a long job's fetched-ahead jobs, see below)
LONG_JOB = 1.0  # s: a job running this long sends the jobs fetched behind it back to ready
MAX_BACKOFF = 5.0  # s between the timer's tries while Redis refuses its acks


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
    settled: bool = False  # its dependents were released already (by the timer)


class AheadBatch:
    """Acknowledgements sent with the next fetch while the runner still runs jobs it holds
    (taskq.wire's client: Ending.send_acks_ahead), so the server works while the worker
    does. The reply is read once: by the runner when it needs those jobs, or by the acks
    timer when the job running now runs long (then the jobs fetched behind it go back to
    ready, as the buffered ones do; see Runner.hand_back_fetched)."""

    def __init__(self, items: list[PendingAck], n: int, sent_at: float, call: Any) -> None:
        self.items, self.n, self.sent_at, self.call = items, n, sent_at, call
        self.replies: list[int] = []
        self.error: Exception | None = None  # raised by the call: the runner handles it
        self._more: list[Delivery] = []
        self._read = False
        self._lock = threading.Lock()

    def read(self) -> None:
        with self._lock:
            if self._read:
                return
            self._read = True
            try:
                self.replies, self._more = self.call.result()
            except Exception as exc:
                self.error = exc

    def take_more(self) -> list[Delivery]:
        """The jobs fetched (to whichever thread asks first)."""
        with self._lock:
            more, self._more = self._more, []
            return more

    def result(self) -> tuple[list[int], list[Delivery]]:
        """As ack_and_fetch returns or raises (for Ending._end_batch)."""
        self.read()
        if self.error is not None:
            raise self.error
        return self.replies, self.take_more()


@dataclass
class SentAcks:
    """Acknowledgements the timer sent: the runner finishes them (logs, hooks, dependents)."""

    items: list[PendingAck]
    replies: list[int]


class AckBatch:
    """The finished jobs of one runner waiting to be acknowledged, and the timer that sends
    them when they have waited `window`. One runner per batch (children with one runner).

    The runner only appends and takes (deque operations, atomic under the GIL: no lock per
    job). While acknowledgements flow the timer looks every `window`; after a quiet spell
    every QUIET_LOOK_EVERY, or at once when the runner adds one. The timer also watches the
    job running now (`job_started`, written by the runner): past LONG_JOB it calls
    `on_long_job`, which hands the jobs fetched behind it back to ready for other workers."""

    def __init__(self, store: RedisStore, max_jobs: int = DEFAULT_MAX_JOBS,
                 window: float = DEFAULT_WINDOW) -> None:
        self.store = store
        self.max_jobs = max_jobs
        self.window = window
        self.sent: deque[SentAcks] = deque()  # appended by the timer, taken by the runner
        self.job_started = 0.0  # time.monotonic() the running job started; 0: none runs
        self.on_long_job: Callable[[], None] | None = None  # called in the timer's thread
        self.on_dependents: Callable[[PendingAck], None] | None = None  # likewise
        self._pending: deque[PendingAck] = deque()
        self._sending = threading.Lock()  # held while the timer takes and sends
        self._closed = threading.Event()
        self._armed = threading.Event()  # set by the runner to wake a sleeping timer
        self._timer_sleeps = False
        self._failures = 0  # the timer's sends refused in a row (it backs off)
        self._long_job_seen = 0.0  # the job_started value already handled
        self._timer: threading.Thread | None = None

    def waiting(self) -> int:
        """How many acknowledgements wait (not __len__: an empty batch is still a batch)."""
        return len(self._pending)

    def start(self) -> AckBatch:
        self._timer = threading.Thread(target=self._run_timer, name="taskq-acks", daemon=True)
        self._timer.start()
        return self

    def add(self, item: PendingAck) -> bool:
        """Queue one acknowledgement; True when the batch is full (send it now)."""
        self._pending.append(item)
        if self._timer_sleeps:  # wake it once, not once per job until it runs
            self._timer_sleeps = False
            self._armed.set()
        return len(self._pending) >= self.max_jobs

    def take(self) -> list[PendingAck]:
        """Everything waiting (the runner and the timer may both take: each gets its own)."""
        items = []
        with contextlib.suppress(IndexError):
            while True:
                items.append(self._pending.popleft())
        return items

    def give_back(self, items: list[PendingAck]) -> None:
        """A send failed: the runner sends these again, first (they may have landed)."""
        for item in items:
            item.uncertain = True
        self._pending.extendleft(reversed(items))

    @contextlib.contextmanager
    def timer_paused(self) -> Iterator[None]:
        """No send of the timer's is in flight or starts meanwhile (the runner sends what
        waits itself, then reads its list: see Runner._adopt_orphans)."""
        with self._sending:
            yield

    def close(self) -> None:
        """Stop the timer and wait for a send it has in flight: after this, every
        acknowledgement is either sent or still here for the runner's last send."""
        self._closed.set()
        self._armed.set()
        with self._sending:
            pass
        if self._timer is not None:
            self._timer.join(1.0)

    def _oldest(self) -> float | None:
        try:
            return self._pending[0].finished
        except IndexError:
            return None

    def _run_timer(self) -> None:
        log = get_logger()
        quiet = 0
        while not self._closed.is_set():
            self._watch_long_job(log)
            oldest = self._oldest()
            if oldest is None:
                quiet += 1
                if quiet < QUIET_LOOKS:
                    self._closed.wait(self.window)
                    continue
                self._timer_sleeps = True  # set before the check: an add() after it wakes us
                if not self._pending:
                    self._armed.wait(QUIET_LOOK_EVERY)
                self._armed.clear()
                self._timer_sleeps = False
                continue
            quiet = 0
            delay = oldest + self.window - time.monotonic()
            if self._failures:  # Redis refused the last try: back off, capped
                delay = max(delay, min(MAX_BACKOFF, self.window * 2 ** self._failures))
            if delay > 0:
                self._closed.wait(delay)
                continue
            with self._sending:
                if self._closed.is_set():
                    return  # the runner sends the rest itself
                items = self.take()
                if items:
                    self._send(items, log)

    def _watch_long_job(self, log: Any) -> None:
        started = self.job_started
        if (not started or started == self._long_job_seen or self.on_long_job is None
                or time.monotonic() - started < LONG_JOB):
            return
        self._long_job_seen = started
        try:
            self.on_long_job()
        except Exception as exc:  # never the timer's end: the jobs stay and run later
            log.warning("hand-back-failed", error=str(exc))

    def _send(self, items: list[PendingAck], log: Any) -> None:
        try:
            replies, _ = self.store.ack_and_fetch(
                [(i.delivery, i.fields) for i in items], 0)
        except Exception as exc:  # the runner sends them again, with its own retries
            if self._failures == 0:
                log.warning("ack-deferred", error=str(exc),
                            detail="Redis refused the batched acknowledgements; retrying")
            self._failures += 1
            self.give_back(items)
            return
        self._failures = 0
        if self.on_dependents is not None:
            for item, reply in zip(items, replies, strict=True):
                if reply == HAS_DEPENDENTS:
                    item.settled = True
                    self.on_dependents(item)
        self.sent.append(SentAcks(items, replies))
