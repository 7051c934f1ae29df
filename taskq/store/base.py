"""The store's foundation: the client, the scripts, the server clock, and the translation of
the clients' errors (taskq.wire's, redis-py's) into taskq's StoreError family. The store's
other modules build on it."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from taskq import rediserrors
from taskq.config import Settings
from taskq.errors import LeaseLostError, StoreConnectionError, StoreError
from taskq.keys import Keys
from taskq.scripting import Scripts
from taskq.topology import node_name, server_time

P = ParamSpec("P")
R = TypeVar("R")



TRANSIENT_REPLIES = ("READONLY", "OOM", "BUSY", "MASTERDOWN", "LOADING", "TRYAGAIN",
                     "CLUSTERDOWN")


def now_ms() -> int:
    return int(time.time() * 1000)


def translate_errors(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except rediserrors.Unreachable as exc:
            raise StoreConnectionError(f"Redis did not answer: {exc}") from exc
        except rediserrors.ResponseError as exc:
            if str(exc).startswith("LEASELOST"):
                raise LeaseLostError(str(exc)) from exc
            if isinstance(exc, rediserrors.Transient) or str(exc).startswith(TRANSIENT_REPLIES):
                # A failover, a full or busy server: wait and retry, as for a dropped link.
                raise StoreConnectionError(f"Redis cannot serve now: {exc}") from exc
            raise StoreError(f"Redis refused a command: {exc}") from exc
        except rediserrors.RedisError as exc:
            raise StoreError(f"Redis error: {exc}") from exc

    return wrapper


_retry_connection: Any = None


def retry_connection(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` retried on StoreConnectionError: 4 attempts, 50 ms doubling up to 1 s (tenacity,
    imported on first use: producers use it, a worker need not hold it)."""
    global _retry_connection
    if _retry_connection is None:
        import tenacity

        _retry_connection = tenacity.retry(
            retry=tenacity.retry_if_exception_type(StoreConnectionError),
            stop=tenacity.stop_after_attempt(4),
            wait=tenacity.wait_exponential(multiplier=0.05, max=1.0),
            reraise=True,
        )
    return _retry_connection(fn)  # type: ignore[no-any-return]


ENQUEUE_CHUNK = 1000  # jobs per enqueue_many call: keeps each script call short on the server


def _text(reply: Any) -> Any:
    return reply.decode() if isinstance(reply, bytes) else reply


class StoreBase:
    def __init__(self, client: Any, settings: Settings, allow_pickle: bool = False) -> None:
        # Typed loosely: redis-py's reply unions (bytes | str | ...) say nothing useful here,
        # since every client taskq builds returns bytes.
        self.client: Any = client
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.scripts = Scripts(self.keys, settings.events_maxlen, settings.events_max_age)
        self.allow_pickle = allow_pickle
        self._known_queues: set[str] = set()
        self._blmove_missing = False
        self._clock: dict[str, tuple[int, float]] = {}  # node -> (offset ms, measured at)

    def lease_clock_ms(self, key: str | None = None) -> int:
        """Milliseconds on the Redis server's clock, for leases: workers on machines whose
        clocks disagree still judge each other's leases by one clock. On a Cluster that is
        the clock of the node serving `key` (a queue's leases are judged on the node that
        holds them). The offset to the local clock is measured with TIME once a minute per
        node (a round trip off the hot path)."""
        node = node_name(self.client, key)
        now = time.time()
        offset_ms, checked = self._clock.get(node, (0, float("-inf")))
        if now >= checked + 60:
            server_s, server_us = server_time(self.client, key)
            offset_ms = (server_s * 1000 + server_us // 1000) - int(time.time() * 1000)
            self._clock[node] = (offset_ms, now)
        return int(time.time() * 1000) + offset_ms

    @translate_errors
    def ping(self) -> bool:
        return bool(self.client.ping())

    def _blmove(self, source: str, dest: str, timeout: float) -> bytes | None:
        """BLMOVE RIGHT LEFT, or BRPOPLPUSH (the same move) on servers before 6.2."""
        if self._blmove_missing:
            return self.client.brpoplpush(source, dest, timeout)  # type: ignore[no-any-return]
        try:
            return self.client.blmove(source, dest, timeout, "RIGHT", "LEFT")  # type: ignore[no-any-return]
        except rediserrors.ResponseError as exc:
            if "unknown command" not in str(exc).lower():
                raise
            self._blmove_missing = True
            return self.client.brpoplpush(source, dest, timeout)  # type: ignore[no-any-return]

