"""Testing code that uses taskq, without a server: `pip install 'taskq[testing]'`.

- `InMemoryBackend`: taskq's real store and Lua scripts on fakeredis, in the test's process.
  While installed, `.delay()` lands there; `drain()` / `run_until_empty()` run the queued jobs
  with the real Runner and decision table, on a fake clock (`advance()`), and return a
  `JobRun` per run; `enqueued()` lists what waits, without running it.
- `eager()`: `.delay()` runs the task at once in the caller and returns a finished handle.
- A pytest plugin (entry point `taskq`): fixtures `taskq_backend` and `taskq_eager`, and the
  ini setting `taskq_eager = true` to make `taskq_backend` eager everywhere.

The functions below act on the installed backend (the fixture's, or one you installed).
See docs/testing.md.
"""

from __future__ import annotations

from typing import Any

from taskq.errors import ConfigurationError
from taskq.job import Payload
from taskq.task import Task
from taskq.testing.backend import InMemoryBackend, InMemoryStore, current
from taskq.testing.clock import FakeClock
from taskq.testing.eager import eager
from taskq.testing.runs import JobRun

__all__ = [
    "FakeClock", "InMemoryBackend", "InMemoryStore", "JobRun", "advance", "current",
    "dead_letters", "drain", "eager", "enqueued", "run_until_empty",
]


def _backend() -> InMemoryBackend:
    backend = current()
    if backend is None:
        raise ConfigurationError(
            "no in-memory backend is installed: use the taskq_backend fixture, or "
            "`with taskq.testing.InMemoryBackend():` around the test")
    return backend


def drain(queue: str | None = None) -> list[JobRun]:
    """Run what is ready now in this process; see InMemoryBackend.drain."""
    return _backend().drain(queue)


def run_until_empty(queue: str | None = None) -> list[JobRun]:
    """Run until nothing is queued or scheduled, advancing the fake clock for retries."""
    return _backend().run_until_empty(queue)


def advance(seconds: float) -> float:
    """Move the fake clock forward; the next drain runs what became due."""
    return _backend().advance(seconds)


def enqueued(task: Task[Any, Any] | str | None = None, queue: str | None = None
             ) -> list[Payload]:
    """Jobs waiting (not run), oldest first, optionally of one task or queue."""
    return _backend().enqueued(task=task, queue=queue)


def dead_letters(queue: str | None = None) -> list[dict[str, str]]:
    """Records of the dead jobs, with reason, error and traceback."""
    return _backend().dead_letters(queue)
