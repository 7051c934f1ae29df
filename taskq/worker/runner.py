"""One worker's loop: fetch a job, run it, end the delivery. No signal handling here, so it
runs the same inside a supervisor's child process, embedded in a program, or in a test.

Round trips under load: one per job. The ack of a job and the fetch of the next travel in one
pipeline; BLMOVE is used only when the queue ran dry.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from tenacity import Retrying, retry_if_exception_type, wait_exponential

from taskq import control, hooks
from taskq.context import JobContext, job_context
from taskq.errors import (
    LeaseLostError,
    Retry,
    StoreConnectionError,
    StoreError,
    UnknownTaskError,
)
from taskq.job import Payload
from taskq.log import get_logger
from taskq.store import Delivery, RedisStore
from taskq.store.control import CancelRequested
from taskq.store.routing import BouncePolicy
from taskq.worker import decision as d
from taskq.worker.aio import CoroutineTimeout, TaskCaller
from taskq.worker.budget import JobBudget
from taskq.worker.limits import LimitGate
from taskq.worker.recovery import backoff_for
from taskq.worker.routing import resolve_task, unknown_task_error
from taskq.workflows import inputs_for, settle

HAS_DEPENDENTS = 2  # ack / dead letter reply: done, and jobs wait for this one


class Event(Protocol):
    def is_set(self) -> bool: ...


class Slot(Protocol):
    """Where a runner tells its supervisor which job it runs and until when (hard timeouts)."""

    def start(self, job_id: str, deadline: float) -> None: ...

    def clear(self) -> None: ...

    def due_at(self, when: float) -> None:
        """A job this runner deferred (rate limit) falls due then: promote it on time."""


class NoSlot:
    def start(self, job_id: str, deadline: float) -> None:
        pass

    def clear(self) -> None:
        pass

    def due_at(self, when: float) -> None:
        pass


def _connection_retrying(log: Any, what: str, give_up: Event | None = None) -> Retrying:
    """Retry Redis trouble with capped exponential backoff, logging every attempt; forever,
    or until `give_up` is set."""
    def before_sleep(state: Any) -> None:
        log.warning("redis-unavailable", during=what, attempt=state.attempt_number,
                    error=str(state.outcome.exception()))

    def should_stop(state: Any) -> bool:
        return give_up is not None and give_up.is_set()

    return Retrying(retry=retry_if_exception_type(StoreConnectionError),
                    wait=wait_exponential(multiplier=0.1, max=5), before_sleep=before_sleep,
                    stop=should_stop, reraise=True)


class Runner:
    def __init__(
        self, store: RedisStore, worker_id: str, queues: Sequence[str], *,
        stop: Event, slot: Slot | None = None, burst: bool = False,
        max_jobs: int | None = None, block_timeout: float = 1.0,
        adopt_orphans: bool = True, clock: Callable[[], float] = time.time,
        caller: TaskCaller | None = None,
        import_from: Sequence[str] = (), budget: JobBudget | None = None,
        wait_scheduled: float | None = None,
    ) -> None:
        self.store = store
        self.worker_id = worker_id
        self.queues = list(queues)
        self.stop = stop
        self.slot = slot or NoSlot()
        self.burst = burst
        self.budget = budget or JobBudget(max_jobs)
        # With burst: also wait for scheduled jobs (delays, retries) due within this many s.
        self.wait_scheduled = wait_scheduled
        self.block_timeout = block_timeout if len(self.queues) == 1 else min(block_timeout, 0.25)
        self.adopt_orphans = adopt_orphans
        self.clock = clock
        self.caller = caller or TaskCaller()
        self.import_from = tuple(import_from)
        self.bounce_policy = BouncePolicy(grace=store.settings.unknown_task_grace)
        self.jobs_run = 0
        self.log = get_logger(worker=worker_id)
        self._buffer: deque[Delivery] = deque()
        self._check_orphans = False
        self._dry = False  # last non-blocking fetch found nothing: go straight to blocking
        self._lease_lost: LeaseLostError | None = None  # seen while ending a job
        self.gate = LimitGate(store, self.log, _connection_retrying, self.slot.due_at)
        self._job: JobContext | None = None  # the job run now, once its hooks ran
        self._ended_as = ""  # "cancelled" when the store turned a retry/dead into a cancel

    # --- the loop ------------------------------------------------------------------------
    def run(self) -> int:
        """Run jobs until stopped, burst-drained, or the child's job budget is spent; returns
        how many this runner ran. A burst drains the ready lists; with `wait_scheduled` it
        also waits (blocking, not polling) for scheduled jobs due within that many seconds."""
        waiting = False
        while not self.stop.is_set():
            if not self.budget.reserve():
                break
            try:
                ran = self.run_once(block=not self.burst or waiting)
            except BaseException:
                self.budget.release()
                raise
            if ran:
                self.budget.commit()
                continue
            self.budget.release()
            if self.burst:
                waiting = self._scheduled_due_soon()
                if not waiting:
                    break
        return self.jobs_run

    def _scheduled_due_soon(self) -> bool:
        if not self.wait_scheduled:
            return False
        horizon = self.clock() + self.wait_scheduled
        try:
            # A job just promoted to ready counts too: the supervisor may have moved it
            # between our empty fetch and this look.
            return any(due is not None and due <= horizon
                       for due in (self.store.next_work_at(q) for q in self.queues))
        except StoreConnectionError:
            return True  # the outage is waited out by the next fetch

    def run_once(self, block: bool = True) -> bool:
        """Take one job and see it through. False when there was none to take."""
        delivery = self._next_with_retries(block)
        if delivery is None:
            return False
        admitted = self.gate.admit(delivery)
        if admitted is None:
            return True  # held back by a rate or concurrency limit: not run, not failed
        outcome = self.execute(admitted)
        self.finish(admitted, outcome)
        self.gate.release(admitted)
        self.jobs_run += 1
        if self._lease_lost is not None:
            raise self._lease_lost
        return True

    # --- fetching ------------------------------------------------------------------------
    def _next_with_retries(self, block: bool) -> Delivery | None:
        try:
            return self.next_delivery(block)
        except StoreConnectionError as exc:
            # A BLMOVE whose reply was lost may have moved a job into our active list.
            self._check_orphans = self.adopt_orphans
            self.log.warning("redis-unavailable", during="fetch", error=str(exc))
            # Waiting for Redis to come back; a stopping worker gives up instead.
            with contextlib.suppress(StoreConnectionError):
                for attempt in _connection_retrying(self.log, "fetch", give_up=self.stop):
                    with attempt:
                        self.store.ping()
            return None

    def next_delivery(self, block: bool) -> Delivery | None:
        if self._buffer:
            return self._buffer.popleft()
        if self._check_orphans:
            self._adopt_orphans()
            if self._buffer:
                return self._buffer.popleft()
        if not (self._dry and block and len(self.queues) == 1):
            for queue in self.queues:
                found = self.store.fetch(queue, self.worker_id, 1)
                if found:
                    self._dry = False
                    self._buffer.extend(found[1:])
                    return found[0]
        if not block or self.stop.is_set():
            self._dry = False
            return None
        delivery, covered = self.store.fetch_blocking(self.queues[0], self.worker_id,
                                                      self.block_timeout)
        # A lease too short to cover the BLMOVE: check it with a plain fetch next time (it
        # raises LeaseLostError when the lease is gone).
        self._dry = delivery is None and covered
        return delivery

    def _adopt_orphans(self) -> None:
        self._check_orphans = False
        for queue in self.queues:
            for raw in self.store.held(queue, self.worker_id):
                # Claimed like any BLMOVE'd job: nothing starts without a confirmed lease.
                self._buffer.append(self.store.claim(queue, self.worker_id, raw))
        if self._buffer:
            self.log.warning("orphans-adopted", count=len(self._buffer))

    # --- running -------------------------------------------------------------------------
    def execute(self, delivery: Delivery) -> d.Outcome:
        payload = delivery.payload
        if payload is None:
            return d.Outcome(d.UNDECODABLE, error_type="DecodeError", error=str(delivery.error))
        try:
            task = resolve_task(payload.task, self.import_from)
            # Only the signature: a payload that decoded from JSON is JSON already. A
            # workflow step gets its parents' results first (checked with a stand-in).
            task.signature.bind(*([None] if payload.inputs else []), *payload.args,
                                **payload.kwargs)
        except UnknownTaskError as exc:
            return d.Outcome(d.UNKNOWN_TASK, error_type="UnknownTaskError", error=str(exc))
        except TypeError as exc:
            return d.Outcome(d.BAD_ARGUMENTS, error_type="BadArgumentsError",
                             error=f"{payload.task}{task.signature}: {exc}")
        if control.expired(payload, self.clock()):
            return d.Outcome(d.EXPIRED, error=f"not started before it expired at "
                             f"{payload.expires_at:.3f}")
        log = self.log.bind(job_id=payload.id, task=payload.task, queue=payload.queue,
                            attempt=payload.attempt)
        log.info("job-started")
        started = time.perf_counter()
        ctx = _job_context(self.store, payload, log)  # id, attempt, cancelled, progress
        # Hard timeouts run on the monotonic clock (shared by the supervisor on this machine).
        # No timeout: an infinite deadline, so the slot still shows the job (force cancels).
        self.slot.start(payload.id, self.caller.deadline(
            task.fn, time.monotonic(), payload.timeout) or math.inf)
        try:
            args = payload.args
            if payload.inputs:
                args = [inputs_for(self.store, payload.queue, payload.id, payload.inputs),
                        *args]
            with job_context(ctx):
                self._job = ctx
                hooks.before_job(ctx)
                result = self.caller.call(task.fn, args, payload.kwargs, payload.timeout)
        except CoroutineTimeout as exc:
            return d.Outcome(d.TIMED_OUT, error_type="TimeoutError", error=str(exc),
                             duration=time.perf_counter() - started)
        except Retry as exc:
            return d.Outcome(d.RETRY_REQUESTED, retry_delay=exc.delay, error=exc.reason,
                             duration=time.perf_counter() - started)
        except Exception as exc:
            return d.Outcome(d.FAILED, error_type=type(exc).__name__, error=str(exc),
                             traceback=traceback.format_exc(),
                             duration=time.perf_counter() - started, exception=exc,
                             no_retry=control.not_retried(task.options, exc))
        finally:
            self.slot.clear()
        return succeeded(result, time.perf_counter() - started)

    # --- ending the delivery: never interrupted half-way (children ignore SIGTERM/SIGINT) --
    def finish(self, delivery: Delivery, outcome: d.Outcome) -> None:
        payload = delivery.payload
        log = self.log.bind(job_id=delivery.job_id, queue=delivery.queue,
                            task=payload.task if payload else None,
                            attempt=payload.attempt if payload else None)
        backoff = backoff_for(payload.task) if payload else backoff_for("")
        action = d.decide(outcome, payload, backoff, self.clock(),
                          self.store.settings.retry_request_limit)
        self._ended_as = ""
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
        self._after_job(outcome, action, bool(applied))

    def _after_job(self, outcome: d.Outcome, action: d.Action, applied: bool) -> None:
        job, self._job = self._job, None
        if job is None:
            return  # never started (expired, unknown task, ...): no hooks
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
            fields = {"result": outcome.result, "finished_at": self.clock(),
                      "worker": self.worker_id, "duration": round(outcome.duration, 6)}
            if len(self.queues) == 1 and not self.stop.is_set() and not self._buffer:
                try:
                    acked, more = self.store.ack_and_fetch(delivery, fields, 1)
                except LeaseLostError as exc:
                    if exc.acked is None:
                        raise
                    self._lease_lost = exc  # log how the ack went first, then stop
                    return exc.acked
                self._buffer.extend(more)
                self._dry = not more
                return acked
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


def _job_context(store: RedisStore, payload: Payload, log: Any) -> JobContext:
    """What `taskq.current_job()` returns inside this job. A progress write that Redis
    cannot take is logged and reported as False, never raised into the task."""
    def write(progress: Any, meta: Any) -> bool:
        try:
            return store.set_progress(payload.queue, payload.id, progress, meta)
        except StoreError as exc:
            log.warning("progress-not-written", error=str(exc))
            return False

    return JobContext(payload.id, payload.queue, payload.task, payload.attempt,
                      _cancel_check=lambda: store.cancel_requested(payload.queue, payload.id),
                      _progress_writer=write)


def succeeded(result: Any, duration: float) -> d.Outcome:
    """A task returned: its result, as the JSON text to store; or, when JSON cannot hold it,
    a failure that goes to dead letters at once (the work ran: it is not retried blindly)."""
    try:
        return d.Outcome(d.SUCCEEDED, result=json.dumps(result), duration=duration)
    except (TypeError, ValueError, RecursionError) as exc:
        return d.Outcome(
            d.BAD_RESULT, error_type="SerializationError", duration=duration,
            error=f"the task ran, but returned a {type(result).__name__}, which JSON cannot "
                  f"hold ({exc}); return JSON values (dict, list, str, int, float, bool, "
                  f"None). It is not retried, since its work was done; requeue it from the "
                  f"dead letters once fixed, if it is safe to run again")
