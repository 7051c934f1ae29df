"""taskq: a task queue for Python on Redis that never loses a job."""

from taskq.config import Settings
from taskq.context import JobContext, NoCurrentJobError, current_job
from taskq.errors import (
    BadArgumentsError,
    ConfigurationError,
    DecodeError,
    JobFailedError,
    JobNotFoundError,
    ResultTimeoutError,
    Retry,
    SerializationError,
    StoreError,
    TaskqError,
    UnknownTaskError,
)
from taskq.handle import Job, get_job
from taskq.hooks import Hook, JobEnd, add_hook, remove_hook
from taskq.job import HIGH, LOW, NORMAL
from taskq.periodic import Every, periodic
from taskq.producer import aclose, configure
from taskq.retry import Backoff
from taskq.task import DuplicateJobError, Task, task
from taskq.workflows import GroupResult, Signature, chain, emit, group

__all__ = [
    "HIGH", "LOW", "NORMAL", "Backoff", "BadArgumentsError", "ConfigurationError",
    "DecodeError", "DuplicateJobError",
    "Every", "GroupResult", "Hook", "Job", "JobContext", "JobEnd", "JobFailedError",
    "JobNotFoundError", "NoCurrentJobError",
    "ResultTimeoutError", "Retry", "SerializationError", "Settings", "Signature", "StoreError",
    "Task",
    "TaskqError", "UnknownTaskError", "aclose", "add_hook", "chain", "configure",
    "current_job", "emit", "get_job", "group", "periodic", "remove_hook", "task",
]
__version__ = "0.1.0"
