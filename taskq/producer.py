"""The connection producers use: built lazily on first enqueue, never at import time.

`configure(settings)` sets it explicitly (tests, apps with their own settings); otherwise the
first `delay()` builds it from the environment (TASKQ_REDIS_URL, REDIS_URL, or the embedded
server).
"""

from __future__ import annotations

import threading

from taskq.config import Settings
from taskq.connection import connect
from taskq.store import RedisStore

_lock = threading.Lock()
_store: RedisStore | None = None
_settings: Settings | None = None
_override: RedisStore | None = None  # a test double (taskq.testing) that wins over settings


def configure(settings: Settings | None) -> None:
    """Use these settings for enqueues from now on (None: back to the environment)."""
    global _store, _settings
    with _lock:
        if _store is not None:
            _store.client.close()
        _store, _settings = None, settings


def override_store(store: RedisStore | None) -> RedisStore | None:
    """Send every enqueue that names no store to `store` (None: stop), whatever `configure`
    says meanwhile; returns the override it replaces. For test doubles (taskq.testing)."""
    global _override
    with _lock:
        previous, _override = _override, store
        return previous


def default_store() -> RedisStore:
    global _store
    with _lock:
        if _override is not None:
            return _override
        if _store is None:
            settings = _settings or Settings.from_env()
            _store = RedisStore(connect(settings), settings)
        return _store
