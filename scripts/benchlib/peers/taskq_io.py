"""taskq's tasks for the async I/O mix, in their own module: a worker that imports a coroutine
task gives every child --async-concurrency runners, so only the io configs import this one
(with taskq_peer, for the sentinels); every other case serves plain functions at defaults."""

from __future__ import annotations

from benchlib import sink
from taskq import task


@task
async def io() -> None:
    await sink.io_wait()


@task
def io_sync() -> None:
    sink.io_wait_sync()
