"""The ack decision table: what happens to a delivery given how its run ended.

| outcome                                  | action                                        |
|------------------------------------------|-----------------------------------------------|
| returned                                 | ack: result stored with a TTL, job done        |
| raised, retries left                     | retry: scheduled after backoff, attempt + 1   |
| raised, no retries left                  | dead letter: "failed", with the traceback      |
| raised outside retry_on / in dont_retry_on | dead letter at once, the reason names the filter |
| not started before its expiry (`expires`) | close as "expired": never run                  |
| retry or dead refused: cancel requested  | close as "cancelled" (decided by the store)    |
| raised Retry(delay)                      | retry after delay (or backoff), not a failure |
| raised Retry more than the limit         | dead letter: "retried too often"               |
| returned what JSON cannot hold           | dead letter: "unserializable-result" (it ran: |
|                                          | not retried blindly; requeue it by hand)      |
| hard timeout, retries left / none left   | retry as "timed out" / dead letter "timed out" |
| payload undecodable / bad arguments      | dead letter at once with that reason           |
| unknown task (this worker lacks it)      | bounce: back for a worker that knows it; dead  |
|                                          | letter once no live worker knows it for a grace|
| worker crashed (kill -9, lost lease)     | back to ready, crash counted; poison after K   |
| worker shut down before it ended          | back to the head of ready, nothing counted     |

A pure function of (outcome, payload, backoff, now): no Redis, unit-tested row by row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from taskq.job import Payload
from taskq.retry import Backoff

# Outcome kinds
SUCCEEDED = "succeeded"
FAILED = "failed"
RETRY_REQUESTED = "retry-requested"
TIMED_OUT = "timed-out"
UNDECODABLE = "undecodable"
UNKNOWN_TASK = "unknown-task"
BAD_ARGUMENTS = "bad-arguments"
BAD_RESULT = "unserializable-result"
EXPIRED = "expired"

NEVER_RUNNABLE = (UNDECODABLE, UNKNOWN_TASK, BAD_ARGUMENTS)
DEAD_AT_ONCE = (*NEVER_RUNNABLE, BAD_RESULT)
RETRY_REQUEST_LIMIT = 1000  # Retry raised this many times in a row: dead letter


@dataclass(frozen=True)
class Outcome:
    kind: str
    result: object = None
    error_type: str = ""
    error: str = ""
    traceback: str = ""
    retry_delay: float | None = None
    duration: float = 0.0
    # The exception itself, for in-process callers (taskq.testing's eager mode re-raises it).
    exception: BaseException | None = field(default=None, compare=False, repr=False)
    no_retry: str = ""  # FAILED: why a retry filter refuses a retry ("" when allowed)


@dataclass(frozen=True)
class Action:
    """ack | retry | dead | bounce | close. For retry: `next` payload, `due` time,
    `count_failure`. bounce: the store decides, on the server, between handing it back and
    dead letters. close: `reason` is the status the job ends with ("expired")."""

    kind: str
    reason: str = ""
    next: Payload | None = None
    due: float = 0.0
    count_failure: bool = False


ACK = Action("ack")  # (immutable: one for every success)


def decide(outcome: Outcome, payload: Payload | None, backoff: Backoff, now: float,
           retry_request_limit: int = RETRY_REQUEST_LIMIT) -> Action:
    if outcome.kind == SUCCEEDED:
        return ACK
    if outcome.kind == UNKNOWN_TASK and payload is not None:
        return Action("bounce", reason=UNKNOWN_TASK)
    if outcome.kind in DEAD_AT_ONCE or payload is None:
        return Action("dead", reason=outcome.kind)
    if outcome.kind == EXPIRED:
        return Action("close", reason=EXPIRED)
    if outcome.kind == FAILED and outcome.no_retry:
        return Action("dead", reason=f"failed: {outcome.no_retry}")
    if outcome.kind == RETRY_REQUESTED:
        if payload.deferrals >= retry_request_limit:
            return Action("dead", reason="retried too often")
        delay = outcome.retry_delay
        if delay is None:
            delay = backoff.delay(payload.attempt)
        return Action("retry", reason="retry requested", next=payload.deferred(),
                      due=now + delay)
    # FAILED or TIMED_OUT
    reason = "timed out" if outcome.kind == TIMED_OUT else "failed"
    if payload.retries_left > 0:
        return Action("retry", reason=reason, next=payload.next_attempt(),
                      due=now + backoff.delay(payload.attempt), count_failure=True)
    return Action("dead", reason=reason)


@dataclass(frozen=True)
class CrashVerdict:
    dest: str  # "ready" or "dead"
    next: Payload


def after_crash(payload: Payload, poison_crashes: int) -> CrashVerdict:
    """A job whose worker died under it: counted, and poison once it has killed K workers."""
    nxt = payload.crashed()
    return CrashVerdict("dead" if nxt.crashes >= poison_crashes else "ready", nxt)
