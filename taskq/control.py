"""Control: the small decisions the producer, the runner and the supervisor ask about a job's
life beyond running it: its unique or idempotency key, whether it expired before it started,
whether a failure may be retried, and which running jobs must be stopped by force. The state
changes themselves are the store's (taskq/store/control.py), each one Lua script."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from taskq.errors import ConfigurationError
from taskq.job import Payload

if TYPE_CHECKING:
    from taskq.task import TaskOptions

MAX_GUARD_BYTES = 200


@dataclass(frozen=True)
class Guard:
    """A unique ('unique') or idempotency ('idempotent') key for one enqueue."""

    kind: str
    key: str
    ttl: int  # seconds the key lives at most


def guard_of(unique_key: str | None, unique_for: float, idempotency_key: str | None,
             idempotency_ttl: float) -> Guard | None:
    if unique_key is not None and idempotency_key is not None:
        raise ConfigurationError("give unique_key or idempotency_key, not both (an "
                                 "idempotency key is also unique while its job is pending)")
    if unique_key is None and idempotency_key is None:
        return None
    kind, key, ttl = (("unique", unique_key, unique_for) if unique_key is not None
                      else ("idempotent", idempotency_key, idempotency_ttl))
    name = "unique_key" if kind == "unique" else "idempotency_key"
    if not isinstance(key, str) or not 0 < len(key.encode()) <= MAX_GUARD_BYTES:
        raise ConfigurationError(f"{name} must be a str of 1 to {MAX_GUARD_BYTES} bytes, "
                                 f"got {key!r}")
    if not isinstance(ttl, (int, float)) or ttl < 1:
        what = "unique_for" if kind == "unique" else "idempotency_ttl"
        raise ConfigurationError(f"{what} must be at least 1 second, got {ttl!r}")
    return Guard(kind, key, int(ttl))


def expired(payload: Payload, now: float) -> bool:
    """Not started by its expiry time (stamped by the producer's clock): never run it."""
    return payload.expires_at is not None and now >= payload.expires_at


def not_retried(options: TaskOptions | None, exc: BaseException) -> str:
    """Why this exception must not be retried ("" when it may be), from the task's
    retry_on / dont_retry_on filters."""
    if options is None:
        return ""
    name = type(exc).__name__
    if options.dont_retry_on and isinstance(exc, options.dont_retry_on):
        return f"{name} is in dont_retry_on ({_names(options.dont_retry_on)}): not retried"
    if options.retry_on is not None and not isinstance(exc, options.retry_on):
        return f"{name} is not in retry_on ({_names(options.retry_on)}): not retried"
    return ""


def _names(types: Sequence[type[BaseException]]) -> str:
    return ", ".join(t.__name__ for t in types)
