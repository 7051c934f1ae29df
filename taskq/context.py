"""`taskq.current_job()`: what a running task knows about its own job.

The runner sets a `JobContext` around each job (a context variable, so each runner thread, and
each coroutine, sees its own). Kept small on purpose: the id, queue, task and attempt, and
`cancelled`, the flag `job.cancel()` raises. Other capabilities add their own properties here:
progress and metadata (`set_progress`, `meta`, `set_meta`), readable by producers through
`job.progress()` / `job.meta()` and by operators in `taskq job ID`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from taskq.errors import ConfigurationError, TaskqError


class NoCurrentJobError(TaskqError):
    """`taskq.current_job()` was called outside a job run by a worker."""


ProgressWriter = Callable[[Any, Mapping[str, Any] | None], bool]


def _no_writer(progress: Any, meta: Mapping[str, Any] | None) -> bool:
    return False


@dataclass(frozen=True)
class JobContext:
    """The job being run by this thread (or coroutine)."""

    id: str
    queue: str
    task: str
    attempt: int
    # Asks the server whether a cancel was requested (one round trip per read).
    _cancel_check: Callable[[], bool] = field(default=lambda: False, repr=False, compare=False)
    # Writes progress and/or a metadata patch onto the job's record (one round trip).
    _progress_writer: ProgressWriter = field(default=_no_writer, repr=False, compare=False)
    _meta: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def cancelled(self) -> bool:
        """True once `job.cancel()` (or `taskq job cancel ID`) was called for this job. A
        long task checks it between steps and returns early; the job then ends `cancelled`
        if it raises, `done` if it returns. Each read is one Redis round trip."""
        return self._cancel_check()

    def set_progress(self, progress: float | Mapping[str, Any]) -> bool:
        """Record how far the job got: a fraction 0..1, or a JSON-able dict (for example
        {"done": 40, "total": 100}). One round trip; kept with the job's record. False if
        the job already ended (a write from a worker that lost the job is refused)."""
        if isinstance(progress, bool) or not isinstance(progress, (int, float, Mapping)):
            raise ConfigurationError(
                f"progress must be a number from 0 to 1 or a dict, got {progress!r}")
        if not isinstance(progress, Mapping) and not 0 <= progress <= 1:
            raise ConfigurationError(f"progress must be between 0 and 1, got {progress}")
        return self._progress_writer(dict(progress) if isinstance(progress, Mapping)
                                     else float(progress), None)

    async def aset_progress(self, progress: float | Mapping[str, Any]) -> bool:
        """`set_progress` for coroutine tasks: the write runs off the event loop."""
        return await asyncio.to_thread(self.set_progress, progress)

    @property
    def meta(self) -> dict[str, Any]:
        """The metadata this run set (a copy); `set_meta` adds to it."""
        return dict(self._meta)

    def set_meta(self, **fields: Any) -> bool:
        """Merge fields into the job's metadata (JSON values), kept with its record across
        retries. One round trip."""
        self._meta.update(fields)
        return self._progress_writer(None, fields)

    async def aset_meta(self, **fields: Any) -> bool:
        """`set_meta` for coroutine tasks: the write runs off the event loop."""
        return await asyncio.to_thread(self.set_meta, **fields)


_current: ContextVar[JobContext | None] = ContextVar("taskq_current_job", default=None)


def current_job() -> JobContext:
    """The job this code runs in. Raises NoCurrentJobError outside a worker's job."""
    ctx = _current.get()
    if ctx is None:
        raise NoCurrentJobError(
            "taskq.current_job() is only available inside a task run by a taskq worker")
    return ctx


@contextlib.contextmanager
def job_context(ctx: JobContext) -> Iterator[JobContext]:
    """Set by the runner around one job."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
