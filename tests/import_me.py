"""A task module that nothing imports up front: `--import-from tests` loads it on sight."""

from __future__ import annotations

from taskq import task


@task
def hello(name: str) -> str:
    return f"hello {name}"
