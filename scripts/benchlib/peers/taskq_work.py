"""The failure-mode case's taskq task, alone in its module: the worker that imports only this
serves plain functions at taskq's defaults (taskq_peer also registers a coroutine task, which
would give every child --async-concurrency runners)."""

from __future__ import annotations

from benchlib import sink
from taskq import task


@task
def work(job: int, ms: int) -> None:
    sink.work(job, ms)
