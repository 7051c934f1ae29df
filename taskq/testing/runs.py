"""What ran in the test's process, and how each run ended: the records drain(),
run_until_empty() and eager mode return, and the runner subclass that collects them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from taskq.records import Delivery
from taskq.store import RedisStore
from taskq.worker import decision as d
from taskq.worker.runner import Runner

T = TypeVar("T")

DONE = "done"
RETRY = "retry"
DEAD = "dead"


@dataclass(frozen=True)
class JobRun:
    """One run of one job. `ended` is where the job went: "done", "retry" (scheduled again:
    a failure with retries left, or `Retry`) or "dead" (dead letters, with `reason`); or the
    job's status when it is something else (for example "cancelled")."""

    job_id: str
    task: str
    queue: str
    args: list[Any]
    kwargs: dict[str, Any]
    attempt: int
    ended: str
    result: Any = None
    error_type: str = ""
    error: str = ""
    reason: str = ""
    traceback: str = field(default="", repr=False)
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.ended == DONE


def job_run(store: RedisStore, delivery: Delivery, outcome: d.Outcome) -> JobRun:
    """Describe a finished run from the job's record, which says where the store put it."""
    record = store.job_record(delivery.queue, delivery.job_id)
    status = record.get("status", "")
    # Scheduled (or already due again): a retry. Any other status (cancelled, ...) as it is.
    ended = {DONE: DONE, DEAD: DEAD, "scheduled": RETRY, "queued": RETRY}.get(status, status)
    p = delivery.payload
    return JobRun(
        job_id=delivery.job_id, task=p.task if p else "", queue=delivery.queue,
        args=list(p.args) if p else [], kwargs=dict(p.kwargs) if p else {},
        attempt=p.attempt if p else 0, ended=ended,
        result=json.loads(record["result"]) if ended == DONE and "result" in record else None,
        error_type=outcome.error_type, error=outcome.error,
        reason=record.get("reason", "") if ended == DEAD else "",
        traceback=outcome.traceback, exception=outcome.exception,
    )


class RecordingRunner(Runner):
    """The real runner, noting each delivery and its outcome as it executes them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.executed: list[tuple[Delivery, d.Outcome]] = []

    def execute(self, delivery: Delivery) -> d.Outcome:
        outcome = super().execute(delivery)
        self.executed.append((delivery, outcome))
        return outcome


def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Call fn here or, when this thread runs an event loop (an async test), in a thread of
    its own and wait for it: the runner gives a coroutine task its own asyncio.run, which
    cannot start inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        in_loop = False
    else:
        in_loop = True
    if not in_loop:
        return fn(*args)
    with ThreadPoolExecutor(1, thread_name_prefix="taskq-testing") as pool:
        return pool.submit(fn, *args).result()
