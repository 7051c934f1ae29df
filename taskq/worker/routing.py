"""Which tasks this worker can run: the registry, plus (only when the operator allows it with
`--import-from PREFIX`) a task's module imported by its dotted name on first sight. A job whose
task is still unknown is handed back for a worker that knows it (the store's `bounce`)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from taskq.errors import UnknownTaskError
from taskq.log import get_logger
from taskq.store.routing import Bounce, BouncePolicy
from taskq.task import Task, get_task, registered_tasks


def allowed(module: str, prefixes: Sequence[str]) -> bool:
    """`module` lies under one of `prefixes` (`workers` allows `workers` and `workers.x.y`,
    never `workersx`), and every part is a plain identifier (no relative imports)."""
    if not module or not all(part.isidentifier() for part in module.split(".")):
        return False
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def candidate_modules(task_name: str) -> list[str]:
    """Modules that may define `task_name` ('pkg.mod.Class.fn' -> 'pkg.mod.Class', 'pkg.mod',
    'pkg'), longest first: task names are `module.qualname`."""
    parts = task_name.split(".")
    return [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def resolve_task(name: str, import_from: Sequence[str] = ()) -> Task[Any, Any]:
    """The registered task, importing its module first when `import_from` allows it.
    UnknownTaskError when it stays unknown."""
    try:
        return get_task(name)
    except UnknownTaskError:
        if not import_from:
            raise
    for module in candidate_modules(name):
        if not allowed(module, import_from):
            continue
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        except Exception as exc:  # a module that breaks on import must not stop the worker
            get_logger().warning("task-import-failed", module=module, error=repr(exc))
            break
        if name in registered_tasks():
            get_logger().info("task-module-imported", module=module, task=name)
            return get_task(name)
    return get_task(name)


def known_task_names() -> list[str]:
    """What this worker publishes: every task registered in it now."""
    return sorted(registered_tasks())


def unknown_task_error(bounce: Bounce, queue: str, task: str, policy: BouncePolicy) -> str:
    """The dead letter's message for a job no worker took: what happened, what to run."""
    if bounce.why == "unknown":
        return (f"no live worker on queue {queue!r} knows task {task!r} (none for "
                f"{policy.grace:g} s); start a worker that imports its module: "
                f"taskq worker {task.rpartition('.')[0] or 'MODULE'}")
    return (f"handed back {bounce.bounces} times and never taken by a worker that knows "
            f"task {task!r}")
