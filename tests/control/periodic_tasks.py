"""Periodic schedules for the periodic tests: one per queue, so a worker started with
`-q ticks-once` runs only that schedule."""

from __future__ import annotations

import taskq
from taskq import periodic
from tests.control.tasks import client


def _note(name: str) -> None:
    client().rpush(f"control:ticks:{name}", taskq.current_job().id)


@periodic(every=1, queue="ticks-many")
def every_second() -> None:
    _note("every_second")


@periodic(every=3, queue="ticks-once", misfire="run-once", misfire_grace=1.0)
def run_once() -> None:
    _note("run_once")


@periodic(every=3, queue="ticks-skip", misfire="skip", misfire_grace=1.0)
def skip() -> None:
    _note("skip")
