"""How a worker waits out Redis trouble: capped exponential backoff, each attempt logged.

The same loop as tenacity's `Retrying(retry=retry_if_exception_type(StoreConnectionError),
wait=wait_exponential(multiplier=0.1, max=5), before_sleep=..., stop=..., reraise=True)`,
written out: a worker then does not import tenacity (about 0.4 MB of its memory) for a loop
that only runs when Redis is away. Used as tenacity's is:

    for attempt in connection_retrying(log, "fetch"):
        with attempt:
            store.ping()
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Protocol

from taskq.errors import StoreConnectionError

MULTIPLIER = 0.1  # seconds before the second attempt; doubling up to MAXIMUM
MAXIMUM = 5.0


class Event(Protocol):
    def is_set(self) -> bool: ...


class Attempt:
    """One try: the `with` block's exception is kept for the loop to judge."""

    def __init__(self, attempt_number: int) -> None:
        self.attempt_number = attempt_number
        self.error: BaseException | None = None

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        self.error = exc
        return exc is not None

    # What before-sleep callbacks read, as on tenacity's RetryCallState.
    @property
    def outcome(self) -> Attempt:
        return self

    def exception(self) -> BaseException | None:
        return self.error


class ConnectionRetrying:
    def __init__(self, log: Any, what: str, give_up: Event | None = None,
                 sleep: Any = time.sleep) -> None:
        self.log, self.what, self.give_up, self.sleep = log, what, give_up, sleep

    def __iter__(self) -> Iterator[Attempt]:
        number = 1
        while True:
            attempt = Attempt(number)
            yield attempt
            error = attempt.error
            if error is None:
                return
            if not isinstance(error, StoreConnectionError):
                raise error
            if self.give_up is not None and self.give_up.is_set():
                raise error
            self.log.warning("redis-unavailable", during=self.what, attempt=number,
                             error=str(error))
            self.sleep(backoff(number))
            number += 1


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt`: 0.1, 0.2, 0.4 ... 5."""
    return min(MAXIMUM, MULTIPLIER * 2.0 ** min(attempt - 1, 64))


def connection_retrying(log: Any, what: str, give_up: Event | None = None
                        ) -> ConnectionRetrying:
    """Retry Redis trouble with capped exponential backoff, logging every attempt; forever,
    or until `give_up` is set."""
    return ConnectionRetrying(log, what, give_up)
