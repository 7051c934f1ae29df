"""Coroutine tasks for the tests: in-process (queue "default") and for `taskq worker`
subprocesses (queue "faults", recording into database 1 like tests/faults/tasks.py)."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import redis.asyncio

import taskq
from taskq import task
from tests.faults.tasks import FAST, QUEUE, URL_ENV

PEAK = """
local now = redis.call('INCR', KEYS[1])
if now > tonumber(redis.call('GET', KEYS[2]) or 0) then redis.call('SET', KEYS[2], now) end
return now
"""

_clients: dict[tuple[int, int], redis.asyncio.Redis] = {}


def records() -> redis.asyncio.Redis:
    """One client per process and event loop."""
    key = (os.getpid(), id(asyncio.get_running_loop()))
    if key not in _clients:
        _clients[key] = redis.asyncio.Redis.from_url(os.environ[URL_ENV], socket_timeout=10)
    return _clients[key]


# --- in-process (queue "default") ---------------------------------------------------------
@task
async def aadd(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


@task(retries=0, timeout=0.2)
async def anap_forever() -> None:
    await asyncio.sleep(60)


@task(retries=0)
async def araise() -> None:
    await asyncio.sleep(0)
    raise TimeoutError("my own timeout, not taskq's")


# --- for worker subprocesses (queue "faults") -----------------------------------------------
@task(queue=QUEUE)
async def together(tag: str, target: int) -> int:
    """Counts how many run at once (peak in Redis), and waits until `target` run together,
    so a worker that runs fewer at once never finishes them."""
    r = records()
    now = await r.eval(PEAK, 2, f"aio:{tag}:now", f"aio:{tag}:peak")
    while int(await r.get(f"aio:{tag}:now") or 0) < target and int(now) > 0:
        if await r.get(f"aio:{tag}:release"):
            break
        await asyncio.sleep(0.01)
    await r.set(f"aio:{tag}:release", 1)  # the batch is complete: let it go
    await r.decr(f"aio:{tag}:now")
    await r.hincrby("aio:done", tag, 1)
    return os.getpid()


@task(queue=QUEUE, timeout=0.5, retries=0)
async def overrun(tag: str) -> None:
    """Awaits past its timeout; records that it was cancelled."""
    r = records()
    await r.rpush(f"aio:{tag}:started", os.getpid())
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        await r.rpush(f"aio:{tag}:cancelled", os.getpid())
        raise


@task(queue=QUEUE, timeout=0.5, retries=0)
async def stuck(tag: str) -> None:
    """Blocks the event loop past its timeout: cancelling it cannot work."""
    await records().rpush(f"aio:{tag}:started", os.getpid())
    time.sleep(30)


@task(queue=QUEUE, retries=0, backoff=FAST)
async def blocking(tag: str, seconds: float) -> int:
    """Blocks the event loop (a sync call in a coroutine) for longer than the lease."""
    time.sleep(seconds)
    await records().hincrby("aio:done", tag, 1)
    return os.getpid()


# --- progress and metadata (in-process, queue "default") -----------------------------------
MIDWAY = threading.Event()  # set by the test to let `halfway` finish


@task
def reports(steps: int) -> dict[str, object]:
    job = taskq.current_job()
    for i in range(1, steps + 1):
        job.set_progress(i / steps)
    job.set_meta(rows=steps, source="test")
    return {"id": job.id, "attempt": job.attempt, "queue": job.queue, "meta": job.meta}


@task
async def areports() -> dict[str, object]:
    job = taskq.current_job()
    await job.aset_progress({"done": 1, "total": 2})
    await job.aset_meta(kind="async")
    return {"id": job.id, "task": job.task}


@task
def halfway() -> None:
    taskq.current_job().set_progress(0.5)
    MIDWAY.wait(30)
