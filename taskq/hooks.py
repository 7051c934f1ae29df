"""Hooks: a small typed interface to watch jobs and workers without touching taskq's code
(Sentry, OpenTelemetry spans, a metrics counter, structured timing).

Subclass `Hook`, override what you need, register it with `taskq.add_hook(MyHook())` in a
module the producer and the worker both import (the module that defines your tasks).
A hook that raises is logged (`hook-failed`) and otherwise ignored: it never stops a job from
running, from being acknowledged, or makes it run twice; hooks run outside the bookkeeping
that ends a job (`after_job` runs after the job's end is written).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from taskq.log import get_logger

if TYPE_CHECKING:
    from taskq.context import JobContext
    from taskq.handle import Job


@dataclass(frozen=True)
class JobEnd:
    """How a job run ended, for `after_job`.

    outcome: "succeeded" | "retrying" | "dead" | "cancelled" | "fenced" (this worker had
    lost the job: its end was not written here)."""

    outcome: str
    duration: float  # seconds the task function ran
    error_type: str = ""
    error: str = ""
    reason: str = ""  # for retrying and dead: why ("failed", "timed out", ...)


class Hook:
    """Every method is optional; the defaults do nothing."""

    def on_enqueue(self, job: Job, task: str, existing: bool) -> None:
        """A job was enqueued (`existing`: an enqueue with a unique or idempotency key found
        a job already holding it and added nothing). Runs in the producer."""

    def before_job(self, job: JobContext) -> None:
        """A worker is about to run the job (in the thread that runs it)."""

    def after_job(self, job: JobContext, end: JobEnd) -> None:
        """The job's run ended and its end is written."""

    def on_worker_start(self, worker_id: str) -> None:
        """A worker child process started serving (once per child)."""

    def on_worker_stop(self, worker_id: str) -> None:
        """A worker child process stops serving (not called when it is killed)."""


_lock = threading.Lock()
_hooks: list[Hook] = []


def add_hook(hook: Hook) -> Hook:
    """Register a hook (for every job of this process, producer and worker). Returns it."""
    if not isinstance(hook, Hook):
        raise TypeError(f"hooks subclass taskq.Hook; got {hook!r}")
    with _lock:
        if hook not in _hooks:
            _hooks.append(hook)
    return hook


def remove_hook(hook: Hook) -> None:
    with _lock:
        if hook in _hooks:
            _hooks.remove(hook)


def any_installed() -> bool:
    """Whether any hook is registered (callers skip building a hook's arguments if not)."""
    return bool(_hooks)


def _call(method: str, *args: Any) -> None:
    for hook in list(_hooks):
        try:
            getattr(hook, method)(*args)
        except Exception as exc:  # a hook must never cost a job
            get_logger().error("hook-failed", hook=type(hook).__name__, method=method,
                               error=f"{type(exc).__name__}: {exc}")


def enqueued(job: Job, task: str, existing: bool) -> None:
    if _hooks:
        _call("on_enqueue", job, task, existing)


def before_job(job: JobContext) -> None:
    if _hooks:
        _call("before_job", job)


def after_job(job: JobContext, end: JobEnd) -> None:
    if _hooks:
        _call("after_job", job, end)


def worker_started(worker_id: str) -> None:
    if _hooks:
        _call("on_worker_start", worker_id)


def worker_stopped(worker_id: str) -> None:
    if _hooks:
        _call("on_worker_stop", worker_id)
