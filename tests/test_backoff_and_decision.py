"""The ack decision table, one test per row, and backoff as a pure function (no Redis)."""

from __future__ import annotations

import pytest

from taskq.job import Payload
from taskq.retry import Backoff
from taskq.worker import decision as d

NOW = 1_000.0
NO_JITTER = Backoff(initial=1.0, maximum=30.0, jitter=0.0)


def payload(attempt: int = 1, retries: int = 3, crashes: int = 0) -> Payload:
    return Payload(id="j", task="t", queue="q", attempt=attempt, retries=retries,
                   crashes=crashes)


def test_backoff_grows_exponentially_and_caps() -> None:
    assert [NO_JITTER.delay(a) for a in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert NO_JITTER.delay(50) == 30.0


def test_backoff_jitter_stays_in_bounds() -> None:
    backoff = Backoff(initial=1.0, maximum=100.0, jitter=0.5)
    delays = {backoff.delay(3) for _ in range(200)}
    assert all(4.0 <= x <= 4.5 for x in delays)
    assert len(delays) > 1


def test_row_success_acks() -> None:
    assert d.decide(d.Outcome(d.SUCCEEDED), payload(), NO_JITTER, NOW).kind == "ack"


def test_row_failure_with_retries_left_schedules_next_attempt_after_backoff() -> None:
    action = d.decide(d.Outcome(d.FAILED), payload(attempt=2), NO_JITTER, NOW)
    assert action.kind == "retry" and action.count_failure
    assert action.next is not None and action.next.attempt == 3
    assert action.due == NOW + 2.0


def test_row_failure_out_of_retries_dead_letters() -> None:
    action = d.decide(d.Outcome(d.FAILED), payload(attempt=4, retries=3), NO_JITTER, NOW)
    assert (action.kind, action.reason) == ("dead", "failed")


@pytest.mark.parametrize("kind", [d.UNDECODABLE, d.BAD_ARGUMENTS])
def test_row_never_runnable_dead_letters_at_once(kind: str) -> None:
    action = d.decide(d.Outcome(kind), payload(attempt=1, retries=9), NO_JITTER, NOW)
    assert (action.kind, action.reason) == ("dead", kind)


def test_row_unknown_task_bounces_for_a_worker_that_knows_it() -> None:
    action = d.decide(d.Outcome(d.UNKNOWN_TASK), payload(attempt=1, retries=9), NO_JITTER, NOW)
    assert (action.kind, action.reason) == ("bounce", d.UNKNOWN_TASK)
    # without a payload there is no task name to hand back: dead at once
    assert d.decide(d.Outcome(d.UNKNOWN_TASK), None, NO_JITTER, NOW).kind == "dead"


def test_row_retry_requested_is_not_a_failure() -> None:
    held = payload()
    action = d.decide(d.Outcome(d.RETRY_REQUESTED, retry_delay=7), held, NO_JITTER, NOW)
    assert action.kind == "retry" and not action.count_failure
    assert action.due == NOW + 7 and action.next == held.deferred()
    assert action.next is not None and action.next.attempt == held.attempt


def test_row_retry_requested_past_the_limit_is_dead() -> None:
    held = payload()
    for _ in range(3):
        held = held.deferred()
    action = d.decide(d.Outcome(d.RETRY_REQUESTED), held, NO_JITTER, NOW, retry_request_limit=3)
    assert (action.kind, action.reason) == ("dead", "retried too often")


def test_row_a_result_json_cannot_hold_is_dead_at_once() -> None:
    action = d.decide(d.Outcome(d.BAD_RESULT), payload(retries=9), NO_JITTER, NOW)
    assert (action.kind, action.reason) == ("dead", "unserializable-result")


def test_row_timeout_retries_then_dead_letters_as_timed_out() -> None:
    first = d.decide(d.Outcome(d.TIMED_OUT), payload(attempt=1, retries=1), NO_JITTER, NOW)
    assert first.kind == "retry" and first.reason == "timed out"
    last = d.decide(d.Outcome(d.TIMED_OUT), payload(attempt=2, retries=1), NO_JITTER, NOW)
    assert (last.kind, last.reason) == ("dead", "timed out")


def test_row_crash_requeues_until_poison() -> None:
    assert d.after_crash(payload(crashes=0), 3).dest == "ready"
    assert d.after_crash(payload(crashes=1), 3).next.crashes == 2
    assert d.after_crash(payload(crashes=2), 3).dest == "dead"


def test_row_failure_outside_the_retry_filter_is_dead_at_once_with_the_reason() -> None:
    outcome = d.Outcome(d.FAILED, error_type="ValueError",
                        no_retry="ValueError is not in retry_on (TimeoutError): not retried")
    action = d.decide(outcome, payload(attempt=1, retries=5), NO_JITTER, NOW)
    assert (action.kind, action.reason) == (
        "dead", "failed: ValueError is not in retry_on (TimeoutError): not retried")


def test_row_expired_before_start_is_closed_as_expired() -> None:
    action = d.decide(d.Outcome(d.EXPIRED), payload(), NO_JITTER, NOW)
    assert (action.kind, action.reason) == ("close", "expired")


def test_retry_filters_say_why_an_exception_is_not_retried() -> None:
    from taskq.control import not_retried
    from taskq.task import TaskOptions

    only = TaskOptions(retry_on=(TimeoutError, ConnectionError))
    assert not_retried(only, TimeoutError()) == ""
    assert not_retried(only, ConnectionResetError()) == ""  # a subclass counts
    assert "not in retry_on (TimeoutError, ConnectionError)" in not_retried(only, KeyError())
    never = TaskOptions(dont_retry_on=(KeyError,))
    assert "is in dont_retry_on (KeyError)" in not_retried(never, KeyError())
    assert not_retried(never, ValueError()) == ""
    with pytest.raises(Exception, match="tuple of exception classes"):
        TaskOptions(retry_on=(ValueError, "nope"))  # type: ignore[arg-type]
