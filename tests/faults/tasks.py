"""Tasks for the real-fault tests, loaded by `taskq worker tests.faults.tasks` subprocesses.

Every task records what it does in Redis database 1 of the test server (TASKQ_FAULTS_URL), so
the test can count executions by job id while taskq's own keys stay alone in database 0:

- `faults:starts:<tag>`   list, one pid per start of the task (never consumed)
- `faults:started:<tag>`  list, one pid per start (the test BLPOPs it to wait for a start)
- `faults:done`           hash tag -> number of runs that reached the end of the task

The end-of-run record is idempotent per run (a token set guarded by a script), and retried
through connection trouble, so a reply lost while the server restarts never counts a run
twice nor fails the task: the counters measure taskq's deliveries, not the test's own luck.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from typing import Any

import redis

from taskq import Backoff, task

QUEUE = "faults"
URL_ENV = "TASKQ_FAULTS_URL"
FAST = Backoff(initial=0.05, maximum=0.1, jitter=0.0)

DONE = "faults:done"

_RECORD_END = """
if redis.call('SADD', KEYS[1], ARGV[2]) == 1 then
  redis.call('EXPIRE', KEYS[1], 3600)
  return redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
end
return tonumber(redis.call('HGET', KEYS[2], ARGV[1]))
"""

_client: tuple[int, redis.Redis] | None = None


def starts_key(tag: str) -> str:
    return f"faults:starts:{tag}"


def started_key(tag: str) -> str:
    return f"faults:started:{tag}"


def release_key(tag: str) -> str:
    return f"faults:release:{tag}"


def client() -> redis.Redis:
    """One client per process (workers fork: never share a socket with the parent)."""
    global _client
    if _client is None or _client[0] != os.getpid():
        _client = (os.getpid(), redis.Redis.from_url(os.environ[URL_ENV], socket_timeout=10))
    return _client[1]


def _patiently(fn: Any, *args: Any) -> Any:
    """Retry an idempotent Redis write through a server restart (up to about a minute)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return fn(*args)
        except (redis.ConnectionError, redis.TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def mark_started(tag: str) -> None:
    pipe = client().pipeline(transaction=True)
    pipe.rpush(starts_key(tag), os.getpid())
    pipe.rpush(started_key(tag), os.getpid())
    pipe.execute()


def mark_done(tag: str) -> int:
    token = uuid.uuid4().hex
    return int(_patiently(client().eval, _RECORD_END, 2, f"faults:tokens:{tag}", DONE,
                          tag, token))


@task(queue=QUEUE)
def record(tag: str, seconds: float = 0.0) -> int:
    """A quick job: counts its run, then takes `seconds` more (so that a fault is likelier
    to hit taskq's own writes than the task's), returns its pid."""
    mark_done(tag)
    time.sleep(seconds)
    return os.getpid()


@task(queue=QUEUE)
def hold(tag: str, seconds: float = 60.0) -> int:
    """Starts, then waits until the test pushes to `faults:release:<tag>` (or `seconds`)."""
    mark_started(tag)
    client().blpop([release_key(tag)], timeout=seconds)
    mark_done(tag)
    return os.getpid()


@task(queue=QUEUE)
def hold_first(tag: str, seconds: float = 60.0) -> int:
    """Like `hold` on its first run; every later run completes at once."""
    mark_started(tag)
    if client().llen(starts_key(tag)) == 1:
        client().blpop([release_key(tag)], timeout=seconds)
    mark_done(tag)
    return os.getpid()


@task(queue=QUEUE)
def suicide(tag: str) -> None:
    """Poison: kills the very process that runs it, every time."""
    mark_started(tag)
    os.kill(os.getpid(), signal.SIGKILL)


@task(queue=QUEUE, timeout=0.5, retries=1, backoff=FAST)
def sleepy(tag: str) -> None:
    """Overruns its hard timeout of 0.5 s on every attempt."""
    mark_started(tag)
    time.sleep(30)
    mark_done(tag)


@task(queue=QUEUE, retries=0)
def fail(tag: str) -> None:
    """Raises at once; no retries, so it goes straight to dead letters."""
    mark_started(tag)
    raise ValueError(f"fail {tag}")


@task(queue=QUEUE, retries=2, backoff=FAST)
def flaky(tag: str) -> int:
    """Fails on its first run, succeeds on the retry (exercises the scheduled set)."""
    mark_started(tag)
    if client().llen(starts_key(tag)) == 1:
        raise RuntimeError(f"first run of {tag} fails")
    return mark_done(tag)


@task(queue=QUEUE, retries=0)
def gil_hog(tag: str, seconds: int = 3) -> int:
    """Holds the GIL for `seconds` in C code (libc sleep called through ctypes.PyDLL, which
    does not release it), as a regex or a C extension can: the child's own heartbeat thread
    cannot run meanwhile."""
    import ctypes

    mark_started(tag)
    ctypes.PyDLL(None).sleep(seconds)
    mark_done(tag)
    return os.getpid()


@task(queue=QUEUE, retries=0)
def returns_set(tag: str) -> Any:
    """Returns what JSON cannot hold."""
    mark_started(tag)
    return {1, 2}
