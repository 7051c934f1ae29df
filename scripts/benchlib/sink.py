"""Cheap recording from inside bench tasks: one RPUSH on the bench server.

Every peer's task module calls these, so all systems pay the same recording cost. The client is
made lazily per process (worker children are forked after import).
"""

from __future__ import annotations

import asyncio
import os
import time

import redis

MARK_KEY = "bench:mark:{}"
LATENCY_KEY = "bench:latency"
CALL_KEY = "bench:calls"  # the one-call case: each job INCRs it once
_client: redis.Redis | None = None
_pid = 0
_aclient: object = None  # redis.asyncio.Redis, for the asyncio workers' one-call job
_aclient_of: tuple[int, int] = (0, 0)  # (pid, id of the event loop) it was made in


def client() -> redis.Redis:
    global _client, _pid
    if _client is None or _pid != os.getpid():
        _client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
        _pid = os.getpid()
    return _client


def mark(name: str) -> None:
    """A sentinel job ran: record when (and, for taskq, the child's round-trip count)."""
    from benchlib import roundtrips

    client().rpush(MARK_KEY.format(name), f"{time.time()!r} {roundtrips.count()} {os.getpid()}")


def latency(sent_at: float) -> None:
    """A latency job started: record start minus enqueue time."""
    started = time.time()
    client().rpush(LATENCY_KEY, repr(started - sent_at))


def call() -> None:
    """The one-call job: what a job that records something does (one INCR on the bench
    server, through a client made once per process, as a task module would hold one)."""
    client().incr(CALL_KEY)


async def acall() -> None:
    """The same for asyncio workers (arq, SAQ): one INCR through redis-py's asyncio client,
    made once per process and event loop, so that jobs running at once overlap their waits
    as an async job's I/O would."""
    global _aclient, _aclient_of
    from redis import asyncio as aredis

    key = (os.getpid(), id(asyncio.get_running_loop()))
    if _aclient is None or _aclient_of != key:
        _aclient = aredis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
        _aclient_of = key
    await _aclient.incr(CALL_KEY)  # type: ignore[attr-defined]


def mix(blob: str) -> None:
    """The realistic job: a 1 KB argument and 1 ms of I/O."""
    time.sleep(0.001)


IO_SECONDS = 0.05  # the async I/O mix: each job waits this long on "the network"


async def io_wait() -> None:
    """The I/O job as a coroutine: awaits 50 ms."""
    await asyncio.sleep(IO_SECONDS)


def io_wait_sync() -> None:
    """The same job as a plain function (for thread pools): blocks 50 ms."""
    time.sleep(IO_SECONDS)


# --- the failure-mode case: every job records its start and its end ---------------------
FAIL_START_KEY = "bench:fail:start"  # RPUSH "job pid time" when a job starts
FAIL_END_KEY = "bench:fail:end"  # RPUSH "job pid time" when it ends (after its work)


def work(job: int, ms: int) -> None:
    """A job that does something: records its start, works `ms` ms, records its end."""
    r = client()
    r.rpush(FAIL_START_KEY, f"{job} {os.getpid()} {time.time()!r}")
    time.sleep(ms / 1000)
    r.rpush(FAIL_END_KEY, f"{job} {os.getpid()} {time.time()!r}")


async def awork(job: int, ms: int) -> None:
    """The same for asyncio workers (arq, SAQ): the sleep yields to the loop; the two
    records are single RPUSHes on a blocking client, as in every other bench task."""
    r = client()
    r.rpush(FAIL_START_KEY, f"{job} {os.getpid()} {time.time()!r}")
    await asyncio.sleep(ms / 1000)
    r.rpush(FAIL_END_KEY, f"{job} {os.getpid()} {time.time()!r}")
