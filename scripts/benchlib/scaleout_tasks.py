"""The task the scale-out case runs (importable by `taskq worker benchlib.scaleout_tasks`)."""

from __future__ import annotations

from taskq import task


@task
def noop() -> None:
    pass
