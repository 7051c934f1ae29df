"""Tasks used by the in-process tests (importable, so worker subprocesses can load them)."""

from __future__ import annotations

from taskq import Backoff, Retry, task

FAST = Backoff(initial=0.01, maximum=0.05, jitter=0.0)


@task
def add(a: int, b: int) -> int:
    return a + b


@task(retries=2, backoff=FAST)
def boom(message: str) -> None:
    raise ValueError(message)


@task(retries=0)
def boom_once(message: str) -> None:
    raise ValueError(message)


@task(backoff=FAST)
def again(delay: float | None = None) -> None:
    raise Retry(delay=delay, reason="not yet")


@task(queue="emails")
def email(to: str) -> str:
    return f"sent to {to}"


@task
def returns_set() -> object:
    return {1, 2}


@task
def overlap(key: str) -> int:
    """Counts how many of these run at the same moment (for --threads tests)."""
    import os
    import time

    from taskq.config import Settings
    from taskq.connection import redis_py_client

    client = redis_py_client(os.environ["TASKQ_REDIS_URL"], Settings())  # a Cluster's too
    now = client.incr(f"test:{key}:now")
    script = "if tonumber(redis.call('GET', KEYS[1]) or 0) < tonumber(ARGV[1]) then " \
             "redis.call('SET', KEYS[1], ARGV[1]) end"
    client.eval(script, 1, f"test:{key}:peak", now)
    time.sleep(0.3)
    client.decr(f"test:{key}:now")
    return int(now)
