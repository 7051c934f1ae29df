"""Enqueue when a database transaction commits: `task.delay_on_commit(...)` and
`task.enqueue(..., on_commit=True)`. The arguments are checked at once, in the caller; the job
is sent only if the transaction commits (a rolled-back order never gets its email).

The database layer is a framework's: an integration registers how to defer a callable until
the current transaction commits (taskq.contrib.django registers Django's
`transaction.on_commit`). Outside a transaction the callable runs at once.
"""

from __future__ import annotations

from collections.abc import Callable

from taskq.errors import ConfigurationError

Deferrer = Callable[[Callable[[], None]], None]

_deferrer: Deferrer | None = None


def register(deferrer: Deferrer | None) -> None:
    """Set how `on_commit` enqueues are deferred (None: none registered)."""
    global _deferrer
    _deferrer = deferrer


def defer(send: Callable[[], None]) -> None:
    if _deferrer is None:
        raise ConfigurationError(
            "on_commit enqueues need a framework integration that knows your database "
            "transactions; with Django add 'taskq.contrib.django' to INSTALLED_APPS")
    _deferrer(send)
