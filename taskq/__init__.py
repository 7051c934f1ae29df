"""taskq: a task queue for Python on Redis that never loses a job.

The public names are imported on first use (PEP 562): a worker process, which needs the store
and the task registry but not the producer's connections, job handles, event feeds or
workflow helpers, does not hold them. `task` and `periodic` are imported here: each is also
the name of a submodule, which importing the submodule would otherwise bind in their place.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from taskq.periodic import periodic
from taskq.task import task

if TYPE_CHECKING:
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
    from taskq.periodic import Every
    from taskq.producer import aclose, configure
    from taskq.retry import Backoff
    from taskq.task import DuplicateJobError, Task
    from taskq.workflows import GroupResult, Signature, chain, emit, group

_WHERE = {
    "taskq.config": ("Settings",),
    "taskq.context": ("JobContext", "NoCurrentJobError", "current_job"),
    "taskq.errors": ("BadArgumentsError", "ConfigurationError", "DecodeError", "JobFailedError",
                     "JobNotFoundError", "ResultTimeoutError", "Retry", "SerializationError",
                     "StoreError", "TaskqError", "UnknownTaskError"),
    "taskq.handle": ("Job", "get_job"),
    "taskq.hooks": ("Hook", "JobEnd", "add_hook", "remove_hook"),
    "taskq.job": ("HIGH", "LOW", "NORMAL"),
    "taskq.periodic": ("Every",),
    "taskq.producer": ("aclose", "configure"),
    "taskq.retry": ("Backoff",),
    "taskq.task": ("DuplicateJobError", "Task"),
    "taskq.workflows": ("GroupResult", "Signature", "chain", "emit", "group"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

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


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'taskq' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
