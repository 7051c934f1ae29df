"""Client-side round-trip counter for taskq's worker child.

Imported by the taskq bench task module when BENCH_COUNT_ROUNDTRIPS=1: wraps the one method of
each client taskq may use that is called once per request/response round trip (a single
command, or a whole pipeline/batch): taskq's own `taskq.wire.Connection.send_packed`, and
redis-py's `AbstractConnection.send_packed_command`. The sentinel job reports the count. The
sink's own records (benchlib.sink) go through neither, so they are not counted.

redis-py's is wrapped only if redis is already imported when install() runs: importing it here
would put redis-py into a worker that does not otherwise load it. A worker that imports redis
only later (after its task modules) is not counted through it; no measured config does that
(the count is taken for the no-op default config, whose modules do not import redis).
"""

from __future__ import annotations

import os
import sys
from typing import Any

_count = 0


def count() -> int:
    return _count


def _wrap(cls: Any, method: str) -> None:
    original = getattr(cls, method, None)
    if original is None or getattr(original, "_bench_wrapped", False):
        return

    def counted(*args: Any, **kwargs: Any) -> Any:
        global _count
        _count += 1
        return original(*args, **kwargs)

    counted._bench_wrapped = True  # type: ignore[attr-defined]
    setattr(cls, method, counted)


def install() -> None:
    if os.environ.get("BENCH_COUNT_ROUNDTRIPS") != "1":
        return
    try:
        from taskq import wire  # taskq's own client, once it has one
    except ImportError:
        pass
    else:
        _wrap(getattr(wire, "Connection", None), "send_packed")
    if "redis" in sys.modules:
        from redis.connection import AbstractConnection

        _wrap(AbstractConnection, "send_packed_command")
