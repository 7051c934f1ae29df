"""The exception classes of both Redis clients taskq uses, without importing redis-py.

`except rediserrors.ConnectionError:` (a flat tuple of classes) catches taskq.wire's
ConnectionError and, once redis-py has been imported (a Cluster, Sentinel or TLS client,
fakeredis, a client the user made), redis-py's as well. An exception of redis-py's can only
exist after redis-py was imported, so looking it up at the moment of the `except` is enough:
a worker that talks through taskq.wire never loads redis-py for its error handling.
"""

from __future__ import annotations

import sys
from typing import Any

from taskq import wire

NAMES = ("RedisError", "ConnectionError", "TimeoutError", "AuthenticationError",
         "BusyLoadingError", "ResponseError", "NoScriptError", "ReadOnlyError",
         "OutOfMemoryError", "MasterDownError", "TryAgainError", "ClusterDownError")
# Names for several classes at once (an `except` takes a flat tuple only).
GROUPS = {"Unreachable": ("ConnectionError", "TimeoutError"),
          # Refusals of a command that did not run, which pass (a failover, a full or
          # loading server): both clients cut the code (READONLY, OOM, ...) off the message.
          "Transient": ("ReadOnlyError", "OutOfMemoryError", "MasterDownError",
                        "TryAgainError", "ClusterDownError")}


def __getattr__(name: str) -> Any:
    """A flat tuple of the classes called `name` in taskq.wire and in redis-py (if loaded)."""
    if name not in NAMES and name not in GROUPS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    redis_exceptions = sys.modules.get("redis.exceptions")
    found: list[type[BaseException]] = []
    for one in GROUPS.get(name, (name,)):
        found.append(getattr(wire, one))
        if redis_exceptions is not None:
            found.append(getattr(redis_exceptions, one))
    return tuple(found)
