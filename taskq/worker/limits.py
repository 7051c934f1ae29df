"""The worker's side of rate and concurrency limits: ask the server to admit a fetched job
before it runs, and give its permit back when it ends (see taskq/limits.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from taskq.errors import StoreConnectionError, StoreError, UnknownTaskError
from taskq.limits import Limit, limit_for
from taskq.records import Delivery
from taskq.store import RedisStore
from taskq.store.limits import ADMITTED, DEFERRED, PARKED
from taskq.task import get_task


def limit_of(delivery: Delivery) -> Limit | None:
    """The limit this job falls under, if its task has one. Unknown tasks and bad arguments
    have none here: the runner dead-letters them as usual."""
    payload = delivery.payload
    if payload is None:
        return None
    try:
        task = get_task(payload.task)
        if not task.options.limits.active:  # most tasks: no limit, nothing to compute
            return None
        return limit_for(task.name, task.options.limits, task.signature, payload.args,
                         payload.kwargs)
    except (UnknownTaskError, TypeError):
        return None


class LimitGate:
    def __init__(self, store: RedisStore, log: Any, retrying: Any,
                 due_at: Callable[[float], None] = lambda when: None) -> None:
        self.store = store
        self.log = log
        self.retrying = retrying  # (log, what) -> retrying loop for connection trouble
        self.due_at = due_at  # tells the supervisor when a deferred job falls due

    def admit(self, delivery: Delivery) -> Delivery | None:
        """The delivery to run, or None when its limit held it back (parked or deferred to
        its rate slot, by the server) or this worker no longer holds it."""
        limit = limit_of(delivery)
        if limit is None:
            return delivery
        try:
            admission = self.store.acquire(delivery, limit)
        except StoreConnectionError:
            for attempt in self.retrying(self.log, "acquire"):
                with attempt:
                    admission = self.store.acquire(delivery, limit)
        if admission.verdict == ADMITTED:
            return delivery
        log = self.log.bind(job_id=delivery.job_id, queue=delivery.queue, limit=limit.name)
        if admission.verdict == PARKED:
            log.info("job-held", by="concurrency", concurrency=limit.concurrency)
        elif admission.verdict == DEFERRED and admission.due is not None:
            self.due_at(admission.due)
            log.info("job-held", by="rate", until=admission.due)
        else:
            log.warning("fenced", action="acquire",
                        detail="this worker no longer holds the job (lease lost)")
        return None

    def release(self, delivery: Delivery) -> None:
        """After a limited job ended: wake parked jobs into the permit it freed. If this
        fails, the supervisors' sweep does it within about a second."""
        limit = limit_of(delivery)
        if limit is None or not limit.concurrency:
            return
        try:
            self.store.release_permits(delivery.queue, limit.name, limit.concurrency)
        except StoreError as exc:
            self.log.warning("permit-release-failed", limit=limit.name, error=str(exc))
