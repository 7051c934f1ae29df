"""Cheap recording from inside bench tasks: one RPUSH on the bench server.

Every peer's task module calls these, so all systems pay the same recording cost. The records
go through a raw socket of the sink's own (`_rpush`), not redis-py: the harness must not import
a client library into a worker that would not otherwise load one. Only `call`/`acall` use
redis-py: they are the job's own work in the one-call case, not instrumentation.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import redis

MARK_KEY = "bench:mark:{}"
LATENCY_KEY = "bench:latency"
CALL_KEY = "bench:calls"  # the one-call case: each job INCRs it once


# --- the recorder: one connection per process, one RPUSH and its one-line reply per record --
_lock = threading.Lock()  # threaded workers (dramatiq, huey -k thread) record concurrently
_conn: tuple[socket.socket, BinaryIO] | None = None
_conn_pid = 0  # the process _conn was made in: a forked child makes its own


def _reset_lock_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a fork while another thread held it would leave it held


os.register_at_fork(after_in_child=_reset_lock_in_child)


def _command(*args: str) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _request(reader: BinaryIO, sock: socket.socket, *args: str) -> bytes:
    sock.sendall(_command(*args))
    reply = reader.readline()
    if reply[:1] not in (b":", b"+"):  # RPUSH answers :n, SELECT +OK; -ERR or EOF is a failure
        raise RuntimeError(f"bench sink: {args[0]} got {reply!r}")
    return reply


def _connect() -> tuple[socket.socket, BinaryIO]:
    """The bench's own server URL: redis://host:port[/db], no auth, no TLS (server.py)."""
    url = urlsplit(os.environ["BENCH_REDIS_URL"])
    if url.scheme != "redis" or url.username or url.password:
        raise ValueError(f"bench sink handles plain redis://host:port[/db] only: {url.geturl()}")
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as redis-py sets it
    reader = sock.makefile("rb")
    db = url.path.strip("/") or "0"
    if db != "0":
        _request(reader, sock, "SELECT", db)
    return sock, reader


def _rpush(key: str, value: str) -> None:
    global _conn, _conn_pid
    with _lock:
        if _conn is None or _conn_pid != os.getpid():
            _conn, _conn_pid = _connect(), os.getpid()
        sock, reader = _conn
        try:
            _request(reader, sock, "RPUSH", key, value)
        except BaseException:
            _conn = None  # the reply stream may be out of step: start over next time
            reader.close()
            sock.close()
            raise


# --- the one-call case's job: redis-py, as a task module holding a client would use -------
_client: redis.Redis | None = None
_pid = 0
_aclient: object = None  # redis.asyncio.Redis, for the asyncio workers' one-call job
_aclient_of: tuple[int, int] = (0, 0)  # (pid, id of the event loop) it was made in


def client() -> redis.Redis:
    global _client, _pid
    if _client is None or _pid != os.getpid():
        import redis

        _client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
        _pid = os.getpid()
    return _client


def mark(name: str) -> None:
    """A sentinel job ran: record when (and, for taskq, the child's round-trip count)."""
    from benchlib import roundtrips

    _rpush(MARK_KEY.format(name), f"{time.time()!r} {roundtrips.count()} {os.getpid()}")


def latency(sent_at: float) -> None:
    """A latency job started: record start minus enqueue time."""
    started = time.time()
    _rpush(LATENCY_KEY, repr(started - sent_at))


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
    _rpush(FAIL_START_KEY, f"{job} {os.getpid()} {time.time()!r}")
    time.sleep(ms / 1000)
    _rpush(FAIL_END_KEY, f"{job} {os.getpid()} {time.time()!r}")


async def awork(job: int, ms: int) -> None:
    """The same for asyncio workers (arq, SAQ): the sleep yields to the loop; the two
    records are single RPUSHes on a blocking client, as in every other bench task."""
    _rpush(FAIL_START_KEY, f"{job} {os.getpid()} {time.time()!r}")
    await asyncio.sleep(ms / 1000)
    _rpush(FAIL_END_KEY, f"{job} {os.getpid()} {time.time()!r}")
