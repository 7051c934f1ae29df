"""taskq: a task queue for Python on Redis that never loses a job."""

from taskq.config import Settings
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
from taskq.handle import Job
from taskq.producer import aclose, configure
from taskq.retry import Backoff
from taskq.task import DuplicateJobError, Task, task

__all__ = [
    "Backoff", "BadArgumentsError", "ConfigurationError", "DecodeError", "DuplicateJobError",
    "Job", "JobFailedError", "JobNotFoundError", "ResultTimeoutError", "Retry",
    "SerializationError", "Settings", "StoreError", "Task", "TaskqError", "UnknownTaskError",
    "aclose", "configure", "task",
]
__version__ = "0.1.0"
