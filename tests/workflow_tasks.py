"""Workflow steps for the tests: in-process (queue "default", "emails") and for `taskq
worker` subprocesses (queue "faults", recording into database 1 like tests/faults/tasks.py)."""

from __future__ import annotations

import os
import time

from taskq import task
from tests.faults.tasks import QUEUE, client

RUNS: dict[str, int] = {}  # in-process run counts


def _count(name: str) -> None:
    RUNS[name] = RUNS.get(name, 0) + 1


@task
def add(a: int, b: int) -> int:
    _count("add")
    return a + b


@task
def times(value: int, factor: int) -> int:
    _count("times")
    return value * factor


@task
def total(values: list[int]) -> int:
    _count("total")
    return sum(values)


@task(retries=0)
def fails() -> None:
    raise ValueError("parent breaks")


@task
def after(note: str) -> str:
    _count(f"after:{note}")
    return note


@task(queue="emails")
def elsewhere(n: int) -> int:
    _count("elsewhere")
    return n


@task(on="order.created")
def bill(order: dict) -> str:
    return f"billed {order['id']}"


@task(on=("order.created", "order.updated"))
def notify_customer(order: dict) -> str:
    return f"told {order['id']}"


# --- for worker subprocesses (queue "faults") -----------------------------------------------
@task(queue=QUEUE)
def member(i: int, seconds: float) -> int:
    time.sleep(seconds)
    client().hincrby("wf:members", str(i), 1)
    return i


@task(queue=QUEUE)
def collect(results: list[int]) -> int:
    r = client()
    r.incr("wf:callback:runs")
    r.set("wf:callback:results", ",".join(str(x) for x in results))
    return os.getpid()


ORDER: list[str] = []  # in-process run order (priorities)


@task
def step(tag: str) -> str:
    ORDER.append(tag)
    return tag


@task(priority=1)
def urgent(tag: str) -> str:
    ORDER.append(tag)
    return tag
