"""Tasks under rate and concurrency limits, for `taskq worker` subprocesses (queue "faults";
they record into database 1 like tests/faults/tasks.py) and in-process tests."""

from __future__ import annotations

import os
import time

from taskq import task
from tests.faults.tasks import QUEUE, client, mark_started, release_key

PEAK = """
local now = redis.call('INCR', KEYS[1])
if now > tonumber(redis.call('GET', KEYS[2]) or 0) then redis.call('SET', KEYS[2], now) end
return now
"""


def running_now(tag: str) -> int:
    return int(client().get(f"lim:{tag}:now") or 0)


@task(queue=QUEUE, concurrency=3)
def three_at_most(tag: str, seconds: float) -> int:
    """Counts how many run at once (the peak is kept in Redis); waits until three run
    together (or `seconds`), so that a limiter letting fewer through shows in the peak."""
    r = client()
    r.eval(PEAK, 2, f"lim:{tag}:now", f"lim:{tag}:peak")
    deadline = time.monotonic() + seconds
    while running_now(tag) < 3 and not r.exists(release_key(tag)):
        if time.monotonic() > deadline:
            break
        time.sleep(0.005)
    r.set(release_key(tag), 1, px=50)  # this batch met: let its members go
    time.sleep(0.02)
    r.decr(f"lim:{tag}:now")
    r.hincrby("lim:done", tag, 1)
    return os.getpid()


@task(queue=QUEUE, rate="50/s")
def fifty_a_second(tag: str) -> None:
    """Records the server time of its start."""
    r = client()
    seconds, micros = r.time()
    r.rpush(f"lim:{tag}:starts", seconds + micros / 1e6)


@task(queue=QUEUE, concurrency=2, limit_key="customer")
def per_customer(customer: str, seconds: float) -> None:
    r = client()
    r.rpush(f"lim:started:{customer}", time.time())
    time.sleep(seconds)
    r.hincrby("lim:done", customer, 1)


@task(queue=QUEUE, concurrency=1)
def alone(tag: str) -> int:
    """One at a time; the first run holds until released (to be killed under it)."""
    r = client()
    now = r.eval(PEAK, 2, "lim:alone:now", "lim:alone:peak")
    mark_started(tag)
    if tag == "first":
        r.blpop([release_key(tag)], timeout=60)
    r.decr("lim:alone:now")
    r.hincrby("lim:done", tag, 1)
    return int(now)


@task(concurrency=1)
def solo_local(n: int) -> int:
    """In-process (queue "default")."""
    return n


@task(rate="10/s")
def rated_local(n: int) -> int:
    return n
