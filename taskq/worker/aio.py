"""Coroutine tasks in a worker: one asyncio event loop per child, on a thread of its own.

The design, and why. A child that serves coroutine tasks runs `--async-concurrency` runner
threads (default 10) instead of `--threads`; each is an ordinary `Runner` that fetches,
claims and ends its job through the synchronous store, exactly as for a plain function, and
hands the coroutine to the child's one event loop, waiting for its outcome. So the fetch,
claim, fencing, retries, hard timeouts and recovery are the store's and the runner's, written
once; the loop never touches Redis state and never blocks on it. A runner thread that waits
for its coroutine costs a few KB of real memory and no CPU; a Redis reply never stalls the
loop, and a coroutine that blocks the loop (a `time.sleep`, a CPU-bound stretch) delays the
other coroutines but not the lease: the heartbeat is a thread of its own.

Timeouts: a coroutine runs under `asyncio.timeout(job timeout)`; past it, it is cancelled
and the job ends as *timed out* (retried or dead-lettered by the decision table) without
killing the child. Only a coroutine that does not let the loop cancel it (it blocks the
loop, or swallows the cancellation) reaches the hard deadline, `HARD_GRACE` seconds later:
the supervisor then kills the child as for a stuck thread.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

HARD_GRACE = 5.0  # seconds after a coroutine's timeout before the child itself is killed


class CoroutineTimeout(Exception):
    """The coroutine ran past its job's timeout and was cancelled."""


@functools.cache  # asked twice per job; a task's function does not change its kind
def is_coroutine_task(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn)


def serves_coroutines() -> bool:
    """Whether any registered task is a coroutine function (the worker then runs a loop)."""
    from taskq.task import registered_tasks

    return any(is_coroutine_task(t.fn) for t in registered_tasks().values())


class EventLoopThread:
    """An event loop running forever on a daemon thread; `run()` is called from other
    threads and blocks the caller (not the loop) until the coroutine ends."""

    def __init__(self, name: str = "taskq-asyncio") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> EventLoopThread:
        self.thread.start()
        self._ready.wait()
        return self

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()

    def run(self, fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any],
            timeout: float | None) -> Any:
        """Run `fn(*args, **kwargs)` on the loop; its result, its exception, or
        CoroutineTimeout after `timeout` seconds (the coroutine is cancelled)."""
        future: Future[Any] = asyncio.run_coroutine_threadsafe(
            _bounded(fn, args, kwargs, timeout), self.loop)
        return future.result()

    def stop(self) -> None:
        """Cancel what is left, stop the loop and close it (after the runners ended)."""
        if not self.thread.is_alive():
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            asyncio.get_running_loop().stop()

        asyncio.run_coroutine_threadsafe(cancel_all(), self.loop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


async def _bounded(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any],
                   timeout: float | None) -> Any:
    limit = asyncio.timeout(timeout)
    try:
        async with limit:
            return await fn(*args, **kwargs)
    except TimeoutError:
        # A TimeoutError the task raised itself, before the deadline, is an ordinary failure.
        if limit.expired():
            raise CoroutineTimeout(
                f"coroutine cancelled after its timeout of {timeout} s") from None
        raise


class TaskCaller:
    """How a runner calls a task function: plain functions on the runner's thread (at most
    `sync_limit` at a time in a child that also runs coroutines), coroutines on the child's
    event loop, or, with no loop (an embedded runner, a test), in a fresh `asyncio.run`."""

    def __init__(self, loop: EventLoopThread | None = None,
                 sync_limit: threading.Semaphore | None = None) -> None:
        self.loop = loop
        self.sync_limit = sync_limit

    def deadline(self, fn: Callable[..., Any], start: float, timeout: float | None) -> float:
        """The hard deadline the supervisor enforces (0: none)."""
        if not timeout:
            return 0.0
        return start + timeout + (HARD_GRACE if is_coroutine_task(fn) else 0.0)

    def call(self, fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any],
             timeout: float | None) -> Any:
        if not is_coroutine_task(fn):
            if self.sync_limit is None:
                return fn(*args, **kwargs)
            with self.sync_limit:
                return fn(*args, **kwargs)
        if self.loop is None:
            return asyncio.run(_bounded(fn, args, kwargs, timeout))
        return self.loop.run(fn, args, kwargs, timeout)
