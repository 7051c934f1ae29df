"""One worker's loop: fetch a job, run it, end the delivery. No signal handling here, so it
runs the same inside a supervisor's child process, embedded in a program, or in a test.

Round trips under load: one per job, or one per batch with batched acknowledgements (the
acks of the jobs that ended and the fetch of the next ones travel in one script call; see
taskq/worker/acks.py); BLMOVE is used only when the queue ran dry.
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
from taskq.store.routing import BouncePolicy
from taskq.worker import decision as d
from taskq.worker.acks import AckBatch, AheadBatch
from taskq.worker.aio import CoroutineTimeout, TaskCaller
from taskq.worker.budget import JobBudget
from taskq.worker.ending import Ending, fresh_clock
from taskq.worker.limits import LimitGate
from taskq.worker.recovery import requeued
from taskq.worker.retrying import Event
from taskq.worker.retrying import connection_retrying as _connection_retrying
from taskq.worker.routing import resolve_task
from taskq.workflows import inputs_for


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


class _Unwatched:
    job_started = 0.0  # nobody watches a runner without batched acks


class Runner(Ending):
    def __init__(
        self, store: RedisStore, worker_id: str, queues: Sequence[str], *,
        stop: Event, slot: Slot | None = None, burst: bool = False,
        max_jobs: int | None = None, block_timeout: float = 1.0,
        adopt_orphans: bool = True, clock: Callable[[], float] = time.time,
        caller: TaskCaller | None = None,
        import_from: Sequence[str] = (), budget: JobBudget | None = None,
        wait_scheduled: float | None = None, acks: AckBatch | None = None,
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
        # Batched acknowledgements (one queue only: the acks travel with that queue's fetch).
        self.acks = acks if len(self.queues) == 1 else None
        self._watch: AckBatch | _Unwatched = _Unwatched()  # who watches for long jobs
        if self.acks is not None:
            self._watch = self.acks
            self.acks.on_long_job = self.hand_back_fetched
            self.acks.on_dependents = self.settle_acked
        self._pace = acks.window if acks is not None else 1.0
        self._ahead: AheadBatch | None = None  # acks and a fetch sent ahead (Ending)
        self.sends_ahead = self.acks is not None and store.can_send_ahead()
        self._fetched_at = 0.0  # when the buffered jobs were fetched (time.monotonic())
        self._shapes_ok: set[tuple[Any, ...]] = set()  # argument shapes that bound
        self._job_log: tuple[Delivery, Any] | None = None

    # --- the loop ------------------------------------------------------------------------
    def run(self) -> int:
        """Run jobs until stopped, burst-drained, or the child's job budget is spent; returns
        how many this runner ran. A burst drains the ready lists; with `wait_scheduled` it
        also waits (blocking, not polling) for scheduled jobs due within that many seconds."""
        try:
            return self._run()
        finally:
            self.close_acks()

    def close_acks(self) -> None:
        """Send every acknowledgement still waiting (the runner stops, or lost its lease:
        an ack is fenced by its delivery alone, so it is still worth sending)."""
        if self.acks is not None:
            self.acks.close()
            self.flush_acks(fetch=False)

    def _run(self) -> int:
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
        found = self._next_fetched() or self._next_arriving()  # (a Delivery is truthy)
        if found is not None:
            return found
        if self.acks is not None and (self.acks.waiting() or self.acks.sent):
            self.flush_acks(fetch=True)  # the acks and the next jobs in one call
            if self._lease_lost is not None:
                raise self._lease_lost
            found = self._next_fetched()
            if found is not None:
                return found
        if self._check_orphans:
            self._adopt_orphans()
            found = self._next_fetched()
            if found is not None:
                return found
        if not (self._dry and block and len(self.queues) == 1):
            for queue in self.queues:
                fetched_at = fresh_clock()
                found_now = self.store.fetch(queue, self.worker_id, self.fetch_size())
                if found_now:
                    self._dry = False
                    self._fetched_at = fetched_at
                    self._buffer.extend(found_now)
                    found = self._next_fetched()
                    if found is not None:
                        return found
        if not block or self.stop.is_set():
            self._dry = False
            return None
        delivery, covered = self.store.fetch_blocking(self.queues[0], self.worker_id,
                                                      self.block_timeout)
        # A lease too short to cover the BLMOVE: check it with a plain fetch next time (it
        # raises LeaseLostError when the lease is gone).
        self._dry = delivery is None and covered
        return delivery

    def _next_arriving(self) -> Delivery | None:
        """The first of the jobs whose fetch was sent ahead (its reply is read now). Reading
        one sends the next (with the acks waiting); if the first brought none, the next is
        read too (it sends nothing more: no ack waits), so none stays in flight behind."""
        while self._ahead is not None:
            self.settle_ahead(send_next=True)
            if self._lease_lost is not None:
                raise self._lease_lost
            found = self._next_fetched()
            if found is not None:
                return found
        return None

    def _next_fetched(self) -> Delivery | None:
        """The next job fetched ahead, if any (the acks timer may hand them back meanwhile:
        see hand_back_fetched)."""
        if not self._buffer:
            return None
        self._check_buffer_fresh()
        try:
            return self._buffer.popleft()
        except IndexError:
            return None

    def _check_buffer_fresh(self) -> None:
        """Jobs fetched ahead were claimed under a lease confirmed at the fetch. If this
        worker was frozen since (SIGSTOP, a VM pause, a suspend) for a good part of a lease,
        confirm the lease again before starting one: a worker that lost it starts nothing."""
        if fresh_clock() - self._fetched_at < self.store.settings.lease_ttl / 4:
            return
        if not self.store.heartbeat(self.worker_id, self.queues):
            raise LeaseLostError(f"LEASELOST worker {self.worker_id} holds no live lease")
        self._fetched_at = fresh_clock()

    def hand_back_fetched(self) -> None:
        """(the acks timer's thread, while a job runs long) The jobs fetched ahead of it go
        back to the head of ready, in order, for other workers: a slow job never holds up
        the quick ones fetched with it. Jobs whose fetch is on its way (sent ahead) go too:
        the reply is read here for that."""
        waiting: list[Delivery] = []
        ahead = self._ahead
        if ahead is not None:
            ahead.read()  # (an error stays in it, for the runner)
            waiting += reversed(ahead.take_more())  # newer than the buffered ones
        with contextlib.suppress(IndexError):
            while True:
                waiting.append(self._buffer.pop())  # newest first: the oldest lands at the head
        if not waiting:
            return
        reason = "handed back: the job before it ran long"
        moved, _ = self.store.release(
            self.queues[0], self.worker_id, [requeued(d.raw, d.job_id, reason) for d in waiting],
            only_if_expired=False, drop_lease=False)
        self.log.info("jobs-handed-back", count=moved, detail="the job running now runs long")

    def _adopt_orphans(self) -> None:
        self._check_orphans = False
        if self.acks is not None:
            # A finished job whose ack is waiting, or in flight in the timer's call, is
            # still in the list: send every ack first, so that only unfinished jobs remain.
            with self.acks.timer_paused():
                self.flush_acks(fetch=False)
        for queue in self.queues:
            for raw in self.store.held(queue, self.worker_id):
                # Claimed like any BLMOVE'd job: nothing starts without a confirmed lease.
                self._buffer.append(self.store.claim(queue, self.worker_id, raw))
        self._fetched_at = fresh_clock()
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
            # Arity and names only: a shape that bound once binds again (cached).
            shape = (task.fn, bool(payload.inputs), len(payload.args),
                     tuple(payload.kwargs))
            if shape not in self._shapes_ok:
                task.signature.bind(*([None] if payload.inputs else []), *payload.args,
                                    **payload.kwargs)
                if len(self._shapes_ok) < 1024:
                    self._shapes_ok.add(shape)
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
        self._job_log = (delivery, log)  # finish() logs with the same context
        log.info("job-started")
        started = time.perf_counter()
        ctx = _job_context(self.store, payload, log)  # id, attempt, cancelled, progress
        # Hard timeouts run on the monotonic clock (shared by the supervisor on this machine).
        # No timeout: an infinite deadline, so the slot still shows the job (force cancels).
        self.slot.start(payload.id, self.caller.deadline(
            task.fn, time.monotonic(), payload.timeout) or math.inf)
        self._watch.job_started = time.monotonic()  # the acks timer watches for long jobs
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
            self._watch.job_started = 0.0
        return succeeded(result, time.perf_counter() - started)

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
        # None (most tasks return nothing) skips the encoder: about 4% of a no-op job
        text = "null" if result is None else json.dumps(result)
        return d.Outcome(d.SUCCEEDED, result=text, duration=duration)
    except (TypeError, ValueError, RecursionError) as exc:
        return d.Outcome(
            d.BAD_RESULT, error_type="SerializationError", duration=duration,
            error=f"the task ran, but returned a {type(result).__name__}, which JSON cannot "
                  f"hold ({exc}); return JSON values (dict, list, str, int, float, bool, "
                  f"None). It is not retried, since its work was done; requeue it from the "
                  f"dead letters once fixed, if it is safe to run again")
