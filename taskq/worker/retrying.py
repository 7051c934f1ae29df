"""How a worker waits out Redis trouble: capped exponential backoff, each attempt logged."""

from __future__ import annotations

from typing import Any, Protocol

from tenacity import Retrying, retry_if_exception_type, wait_exponential

from taskq.errors import StoreConnectionError


class Event(Protocol):
    def is_set(self) -> bool: ...


def connection_retrying(log: Any, what: str, give_up: Event | None = None) -> Retrying:
    """Retry Redis trouble with capped exponential backoff, logging every attempt; forever,
    or until `give_up` is set."""
    def before_sleep(state: Any) -> None:
        log.warning("redis-unavailable", during=what, attempt=state.attempt_number,
                    error=str(state.outcome.exception()))

    def should_stop(state: Any) -> bool:
        return give_up is not None and give_up.is_set()

    return Retrying(retry=retry_if_exception_type(StoreConnectionError),
                    wait=wait_exponential(multiplier=0.1, max=5), before_sleep=before_sleep,
                    stop=should_stop, reraise=True)
