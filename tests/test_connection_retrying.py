"""The worker's wait for Redis (taskq.worker.retrying): retries connection trouble with a
capped, doubling backoff and logs each attempt; anything else, or a stop, ends it at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from taskq.errors import StoreConnectionError, StoreError
from taskq.worker.retrying import ConnectionRetrying, backoff


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **kw: Any) -> None:
        self.lines.append((event, kw))


def test_connection_trouble_is_retried_until_it_passes_with_each_attempt_logged() -> None:
    log, slept, calls = Log(), [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise StoreConnectionError("down")
        return "up"

    for attempt in ConnectionRetrying(log, "fetch", sleep=slept.append):
        with attempt:
            result = flaky()
    assert result == "up" and len(calls) == 4
    assert slept == [0.1, 0.2, 0.4]
    assert [kw["attempt"] for _, kw in log.lines] == [1, 2, 3]
    assert log.lines[0] == ("redis-unavailable", {"during": "fetch", "attempt": 1,
                                                  "error": "down"})


def test_the_backoff_doubles_up_to_five_seconds() -> None:
    assert [backoff(n) for n in (1, 2, 3, 6, 7, 1000)] == [0.1, 0.2, 0.4, 3.2, 5.0, 5.0]


def test_other_errors_are_not_retried_and_a_stop_gives_up_with_the_last_error() -> None:
    log, slept = Log(), []
    with pytest.raises(StoreError, match="refused"):
        for attempt in ConnectionRetrying(log, "finish", sleep=slept.append):
            with attempt:
                raise StoreError("refused")
    assert slept == [] and log.lines == []
    stop = threading.Event()
    stop.set()
    with pytest.raises(StoreConnectionError, match="down"):
        for attempt in ConnectionRetrying(log, "fetch", give_up=stop, sleep=slept.append):
            with attempt:
                raise StoreConnectionError("down")
    assert slept == []
