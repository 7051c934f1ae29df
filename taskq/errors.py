"""Every exception taskq raises on purpose. Catch `TaskqError` to catch them all."""

from __future__ import annotations


class TaskqError(Exception):
    """Base of every error taskq raises on purpose."""


class ConfigurationError(TaskqError):
    """Settings are missing or invalid; the message says what to set."""


class EmbeddedServerError(ConfigurationError):
    """The embedded Valkey server could not be found or started."""


class ServerNotRunningError(EmbeddedServerError):
    """No Redis URL is set and no embedded server runs, and the command only reads: it does
    not start one (an empty new server would only say "no queues")."""


class SerializationError(TaskqError):
    """A value cannot be encoded by the job serializer (raised at enqueue)."""


class DecodeError(TaskqError):
    """A stored payload cannot be decoded. `raw` holds the bytes as they were."""

    def __init__(self, message: str, raw: bytes) -> None:
        super().__init__(message)
        self.raw = raw


class UnknownTaskError(TaskqError):
    """A job names a task that no imported module registered."""


class BadArgumentsError(TaskqError):
    """Arguments do not fit the task function's signature."""


class StoreError(TaskqError):
    """Redis could not be reached or answered with an error."""


class JobFailedError(TaskqError):
    """`Job.result()` on a job that failed for good (dead-lettered)."""

    def __init__(self, job_id: str, status: str, error: str | None) -> None:
        super().__init__(f"job {job_id} is {status}: {error or 'no error recorded'}")
        self.job_id = job_id
        self.status = status
        self.error = error


class JobNotFoundError(TaskqError):
    """No record of the job: wrong id, or its result expired."""


class ResultTimeoutError(TaskqError):
    """`Job.result(timeout=...)` ran out of time before the job finished."""


class Retry(Exception):
    """Raise inside a task to run it again later without counting a failure.

    `delay` is in seconds; None means the task's normal backoff.
    """

    def __init__(self, delay: float | None = None, reason: str = "") -> None:
        super().__init__(reason or "retry requested")
        self.delay = delay
        self.reason = reason


class StoreConnectionError(StoreError):
    """Redis did not answer (down, restarting, network cut). Usually worth retrying."""


class LeaseLostError(StoreError):
    """This worker's lease was taken over; it must stop and let its jobs be recovered.

    `acked` is set when the lease loss was reported by a fetch that rode along with acks:
    each ack's reply, in order (as `ack` returns it; 0 when fenced)."""

    def __init__(self, message: str, acked: list[int] | None = None) -> None:
        super().__init__(message)
        self.acked = acked


class RunawayJobError(TaskqError):
    """taskq.testing: jobs kept running past the limit of one drain or eager call (a task
    that always raises Retry, or one that keeps enqueuing more work)."""


class EventCursorError(TaskqError):
    """An event cursor or --since value that cannot be read."""


class EventsTrimmedError(TaskqError):
    """The event stream was trimmed past a reader's position: events were lost to it, so it
    must start again from a fresh snapshot (the job's record, the queue's counts)."""

    def __init__(self, queues: list[str]) -> None:
        super().__init__(
            f"the event stream of {', '.join(queues)} was trimmed past this position; read a "
            "fresh snapshot, then follow from now (raise Settings.events_maxlen to keep more)")
        self.queues = queues
