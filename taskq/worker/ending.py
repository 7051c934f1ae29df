"""Ending a delivery: decide (the decision table), write the end (ack, retry, dead letter,
close, bounce) through the store, log it, settle dependents and run the after_job hook. Never
interrupted half-way (children ignore SIGTERM/SIGINT). A part of Runner (taskq/worker/runner.py),
kept apart to keep each module readable; with batched acknowledgements a success's write
waits in an AckBatch (taskq/worker/acks.py) and the rest of its end happens when it is sent.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from taskq import hooks
from taskq.context import JobContext
from taskq.errors import LeaseLostError, StoreConnectionError, StoreError
from taskq.store import Delivery, RedisStore
from taskq.store.control import CancelRequested
from taskq.store.routing import BouncePolicy
from taskq.worker import decision as d
from taskq.worker.acks import HAS_DEPENDENTS, AckBatch, AheadBatch, PendingAck
from taskq.worker.budget import JobBudget
from taskq.worker.recovery import backoff_for
from taskq.worker.retrying import connection_retrying as _connection_retrying
from taskq.worker.routing import unknown_task_error
from taskq.workflows import settle

MIN_PACE = 1e-4  # s: a job costs at least this much around it (fetch, decode, ack)
# The clock that judges how old fetched-ahead jobs are: on Linux it also counts time the
# machine was suspended (a VM paused, a laptop asleep), which monotonic() does not.
fresh_clock: Callable[[], float] = (
    functools.partial(time.clock_gettime, time.CLOCK_BOOTTIME)
    if hasattr(time, "CLOCK_BOOTTIME") else time.monotonic)


class Ending:
    """The end of a job, for Runner. Attributes are Runner's."""

    store: RedisStore
    worker_id: str
    queues: list[str]
    stop: Any
    clock: Callable[[], float]
    log: Any
    adopt_orphans: bool
    bounce_policy: BouncePolicy
    acks: AckBatch | None
    _buffer: deque[Delivery]
    _dry: bool
    _check_orphans: bool
    _lease_lost: LeaseLostError | None
    _job: JobContext | None
    _ended_as: str
    _pace: float  # s per job, recent average (sets the fetch size with batched acks)
    _fetched_at: float
    _job_log: tuple[Delivery, Any] | None  # (delivery, its logger) from execute()
    _ahead: AheadBatch | None  # acks and a fetch sent, reply not read yet
    sends_ahead: bool  # batched acks on taskq.wire's client: send_acks_ahead is used
    budget: JobBudget

    def finish(self, delivery: Delivery, outcome: d.Outcome) -> None:
        payload = delivery.payload
        if self._job_log is not None and self._job_log[0] is delivery:
            log = self._job_log[1]  # bound by execute() for this very delivery
        else:
            log = self.log.bind(job_id=delivery.job_id, queue=delivery.queue,
                                task=payload.task if payload else None,
                                attempt=payload.attempt if payload else None)
        self._job_log = None
        backoff = backoff_for(payload.task) if payload else backoff_for("")
        action = d.decide(outcome, payload, backoff, self.clock(),
                          self.store.settings.retry_request_limit)
        self._ended_as = ""
        if action.kind == "ack" and self.acks is not None:
            self._defer_ack(delivery, outcome, action, log)
            return
        try:
            applied = self._apply(delivery, outcome, action)
            uncertain = False
        except StoreConnectionError as exc:
            log.warning("redis-unavailable", during="finish", attempt=1, error=str(exc))
            for attempt in _connection_retrying(log, "finish"):
                with attempt:
                    applied = self._apply(delivery, outcome, action)
            # The first try may have landed (its reply lost): a refusal now is not proof of
            # a lost lease, and a fetch that rode along may have moved a job into our list.
            self._check_orphans = self.adopt_orphans
            uncertain = True
        self._log_end(log, outcome, action, bool(applied), uncertain=uncertain)
        if applied == HAS_DEPENDENTS:
            self._settle(delivery, action, outcome, log)
        job, self._job = self._job, None
        self._after_job(job, outcome, action, bool(applied))

    # --- batched acknowledgements (taskq/worker/acks.py) -----------------------------------
    def _defer_ack(self, delivery: Delivery, outcome: d.Outcome, action: d.Action,
                   log: Any) -> None:
        assert self.acks is not None
        job, self._job = self._job, None
        self._pace += 0.2 * (max(outcome.duration, MIN_PACE) - self._pace)
        full = self.acks.add(PendingAck(delivery, outcome, action, self._ack_fields(outcome),
                                        job, log, time.monotonic()))
        if self.sends_ahead and self._ahead is None and self._buffer:
            self.send_acks_ahead()
        elif full and self.sends_ahead and self._ahead is not None and not self._buffer:
            # The runner is about to look for its next job, and that reads the call in
            # flight and sends these acks ahead with the next fetch (Runner._next_arriving).
            # A flush here would make it wait for two replies, once per batch.
            pass
        elif full:
            self.flush_acks(fetch=not self._buffer)

    def send_acks_ahead(self, coming: int = 0) -> None:
        """Send the waiting acknowledgements with the next fetch now, and run the jobs held
        meanwhile while the server works on it (without this, the worker and the server take
        turns: each waits while the other works). The reply is read when the jobs run out
        (settle_ahead). Nothing about a job's end changes: its acknowledgement only leaves
        sooner. `coming`: jobs fetched by a call whose reply is not read yet."""
        assert self.acks is not None
        items = self.acks.take()
        if not items:
            return
        n = 0 if self.stop.is_set() else self.fetch_size()
        remaining = self.budget.remaining()  # --max-jobs counts the jobs held already
        if remaining is not None:
            n = max(0, min(n, remaining - len(self._buffer) - coming))
        sent_at = fresh_clock()
        try:
            call = self.store.send_ack_and_fetch([(i.delivery, i.fields) for i in items], n)
        except StoreError:
            self.acks.give_back(items)  # the next flush sends them, with its retries
            return
        self._ahead = AheadBatch(items, n, sent_at, call)

    def settle_ahead(self, send_next: bool = False) -> None:
        """Read the reply to the acknowledgements sent ahead, if any, and end those jobs;
        the jobs fetched with them join the buffer. With `send_next` the next call goes out
        first (the acknowledgements of the jobs run meanwhile, the next fetch), so that the
        server works on it while this reply's jobs are decoded, ended and run; replies come
        back in order. Never when everything must be settled (flush_acks)."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return
        if send_next and not self.stop.is_set():
            self.send_acks_ahead(coming=ahead.n)
        self._end_batch(ahead.items, ahead.n, ahead.sent_at, ahead.result)

    def fetch_size(self) -> int:
        """Jobs to take per fetch: one, or with batched acks as many as recent jobs suggest
        will end within the acknowledgement window (so prefetched jobs start soon, and slow
        jobs are never hoarded by one worker)."""
        if self.acks is None:
            return 1
        n = max(1, min(self.acks.max_jobs, int(self.acks.window / self._pace)))
        remaining = self.budget.remaining()  # --max-jobs: no more than this child will run
        return n if remaining is None else min(n, remaining)

    def flush_acks(self, fetch: bool) -> None:
        """Send the waiting acknowledgements, with the fetch of the next jobs when `fetch`
        (one script call), then log and finish each job as `finish` would have."""
        if self.acks is None:
            return
        self.settle_ahead()
        self.finish_sent_acks()
        items = self.acks.take()
        if not items:
            return
        n = self.fetch_size() if fetch and not self.stop.is_set() else 0
        done = [(i.delivery, i.fields) for i in items]
        sent_at = fresh_clock()  # jobs fetched now were claimed no earlier than this
        self._end_batch(items, n, sent_at, lambda: self.store.ack_and_fetch(done, n))

    def _end_batch(self, items: list[PendingAck], n: int, sent_at: float,
                   reply: Callable[[], tuple[list[int], list[Delivery]]]) -> None:
        """The reply to acknowledgements sent with a fetch of up to n jobs: buffer the jobs
        and end each acknowledged one (a lost reply: the acks are sent again alone, and the
        active list is checked for what the fetch may have moved)."""
        assert self.acks is not None
        done = [(i.delivery, i.fields) for i in items]
        uncertain = any(i.uncertain for i in items)
        more: list[Delivery] = []
        try:
            replies, more = reply()
        except LeaseLostError as exc:
            self._lease_lost = exc  # finish the acks first, then stop
            replies = exc.acked or [0] * len(items)
        except StoreConnectionError as exc:
            self.log.warning("redis-unavailable", during="finish", attempt=1, error=str(exc))
            for attempt in _connection_retrying(self.log, "finish"):
                with attempt:
                    replies, _ = self.store.ack_and_fetch(done, 0)
            self._check_orphans = self.adopt_orphans  # the first try's fetch may have landed
            uncertain = True
        except StoreError:
            self.acks.give_back(items)  # not lost with the runner: sent at its last flush
            raise
        if n:
            self._buffer.extend(more)
            self._fetched_at = sent_at
            self._dry = not more
        for item, answer in zip(items, replies, strict=True):
            self._end_acked(item, answer, uncertain or item.uncertain)

    def finish_sent_acks(self) -> None:
        """Finish the jobs whose acknowledgements the timer sent (logs, hooks, dependents)."""
        if self.acks is None:
            return
        while self.acks.sent:
            sent = self.acks.sent.popleft()
            for item, reply in zip(sent.items, sent.replies, strict=True):
                self._end_acked(item, reply, item.uncertain)

    def _end_acked(self, item: PendingAck, reply: int, uncertain: bool) -> None:
        self._ended_as = ""
        self._log_end(item.log, item.outcome, item.action, bool(reply), uncertain=uncertain)
        if reply == HAS_DEPENDENTS and not item.settled:
            self._settle(item.delivery, item.action, item.outcome, item.log)
        self._after_job(item.job, item.outcome, item.action, bool(reply))

    def settle_acked(self, item: PendingAck) -> None:
        """(the timer's thread) A job it acknowledged has dependents: release them now, not
        once the runner is free again."""
        self._settle(item.delivery, item.action, item.outcome, item.log)

    # --- what every job's end does -----------------------------------------------------------
    def _after_job(self, job: JobContext | None, outcome: d.Outcome, action: d.Action,
                   applied: bool) -> None:
        if job is None or not hooks.any_installed():
            return  # never started (expired, unknown task, ...), or no hook to tell
        kind = {"ack": "succeeded", "retry": "retrying"}.get(action.kind, action.kind)
        hooks.after_job(job, hooks.JobEnd(
            self._ended_as or (kind if applied else "fenced"), outcome.duration,
            outcome.error_type, outcome.error, action.reason))

    def _settle(self, delivery: Delivery, action: d.Action, outcome: d.Outcome,
                log: Any) -> None:
        """The job ended and others wait for it: tell them now (if this fails, supervisors
        find it within seconds; see taskq/workflows.py)."""
        ended = "done" if action.kind == "ack" else "dead"
        result = str(outcome.result) if ended == "done" else ""  # JSON text already
        try:
            released = settle(self.store, delivery.queue, delivery.job_id, ended, result)
        except StoreError as exc:
            log.warning("dependents-not-settled", error=str(exc))
            return
        if released:
            log.info("dependents-released", count=released)

    def _apply(self, delivery: Delivery, outcome: d.Outcome, action: d.Action) -> int:
        try:
            return self._write_end(delivery, outcome, action)
        except CancelRequested:
            # Cancelled while it ran, and it did not succeed: it ends cancelled (the store
            # refused the retry or dead letter; that decision was made there, once).
            self._ended_as = "cancelled"
            return int(self.store.close(delivery, "cancelled", {
                "error_type": outcome.error_type, "error": outcome.error,
                "worker": self.worker_id}))

    def _write_end(self, delivery: Delivery, outcome: d.Outcome, action: d.Action) -> int:
        if action.kind == "bounce" and delivery.payload is not None:
            return self._bounce(delivery, outcome, delivery.payload.task)
        if action.kind == "close":
            return int(self.store.close(delivery, action.reason, {"error": outcome.error}))
        if action.kind == "ack":
            fields = self._ack_fields(outcome)
            if len(self.queues) == 1 and not self.stop.is_set() and not self._buffer:
                try:
                    replies, more = self.store.ack_and_fetch([(delivery, fields)], 1)
                except LeaseLostError as exc:
                    if exc.acked is None:
                        raise
                    self._lease_lost = exc  # log how the ack went first, then stop
                    return exc.acked[0]
                self._buffer.extend(more)
                self._fetched_at = fresh_clock()
                self._dry = not more
                return replies[0]
            return self.store.ack(delivery, fields)
        error_fields = {"error_type": outcome.error_type, "error": outcome.error,
                        "traceback": outcome.traceback, "worker": self.worker_id,
                        "attempts": delivery.payload.attempt if delivery.payload else 0,
                        "failed_at": self.clock()}
        if action.kind == "retry" and action.next is not None:
            event = "retry-requested" if outcome.kind == d.RETRY_REQUESTED else "retrying"
            return self.store.retry(delivery, action.next, int(action.due * 1000),
                                    action.count_failure, event, error_fields)
        return self.store.dead_letter(delivery, "dead-lettered",
                                      {**error_fields, "reason": action.reason})

    def _ack_fields(self, outcome: d.Outcome) -> dict[str, Any]:
        return {"result": outcome.result, "finished_at": self.clock(),
                "worker": self.worker_id, "duration": round(outcome.duration, 6)}

    def _bounce(self, delivery: Delivery, outcome: d.Outcome, task: str) -> int:
        """Hand back a job whose task this worker lacks; dead-letter it as unknown-task only
        when the store says no live worker has known the task for the grace period."""
        bounce = self.store.bounce(delivery, task, self.bounce_policy)
        log = self.log.bind(job_id=delivery.job_id, queue=delivery.queue, task=task)
        if bounce.verdict == "bounced":
            log.info("job-bounced", retry_in=bounce.delay, bounces=bounce.bounces,
                     detail="this worker lacks the task; handed back for one that knows it")
            return True
        if bounce.verdict == "fenced":
            return False
        error = (outcome.error if bounce.why == "foreign"  # not its record's own bytes
                 else unknown_task_error(bounce, delivery.queue, task, self.bounce_policy))
        applied = self.store.dead_letter(delivery, "dead-lettered", {
            "error_type": "UnknownTaskError", "error": error, "traceback": "",
            "worker": self.worker_id, "attempts": delivery.payload.attempt
            if delivery.payload else 0, "failed_at": self.clock(), "reason": d.UNKNOWN_TASK})
        if applied:
            log.error("job-dead-lettered", reason=d.UNKNOWN_TASK, error=error)
        return applied

    def _log_end(self, log: Any, outcome: d.Outcome, action: d.Action, applied: bool,
                 uncertain: bool = False) -> None:
        duration = round(outcome.duration, 6)
        if not applied and uncertain:
            log.warning("write-uncertain", action=action.kind,
                        detail="Redis dropped the connection during the write; it was either "
                        "applied before the drop or the job was recovered by another worker")
        elif not applied:
            log.error("fenced", action=action.kind,
                      detail="this worker no longer holds the job (lease lost); write refused")
        elif action.kind == "bounce":
            pass  # _bounce said what happened
        elif self._ended_as == "cancelled":
            log.warning("job-cancelled", duration=duration, error=outcome.error)
        elif action.kind == "close":
            log.warning(f"job-{action.reason}", error=outcome.error)
        elif action.kind == "ack":
            log.info("job-succeeded", duration=duration)
        elif action.kind == "retry":
            log.warning("job-retrying", reason=action.reason, duration=duration,
                        error=outcome.error, retry_in=round(action.due - self.clock(), 3))
        else:
            log.error("job-dead-lettered", reason=action.reason, duration=duration,
                      error_type=outcome.error_type, error=outcome.error)
