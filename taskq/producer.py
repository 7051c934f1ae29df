"""The connection producers use: built lazily on first enqueue, never at import time.

`configure(settings)` sets it explicitly (tests, apps with their own settings); otherwise the
first `delay()` builds it from the environment (TASKQ_REDIS_URL, REDIS_URL, or the embedded
server).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from taskq.config import Settings
from taskq.connection import connect, connect_async, resolve_url
from taskq.store import RedisStore

if TYPE_CHECKING:
    from taskq.store.aio import AsyncStore  # imported when a coroutine first enqueues

_lock = threading.Lock()
_store: RedisStore | None = None
_settings: Settings | None = None
_override: RedisStore | None = None  # a test double (taskq.testing) that wins over settings
_async_override: Callable[[], AsyncStore] | None = None  # its async twin, per running loop
# redis.asyncio clients belong to the loop they were made on: one store per running loop.
_async_stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncStore] = (
    weakref.WeakKeyDictionary())


def configure(settings: Settings | None) -> None:
    """Use these settings for enqueues from now on (None: back to the environment)."""
    global _store, _settings
    with _lock:
        if _store is not None:
            _store.client.close()
        _store, _settings = None, settings
        _async_stores.clear()


def override_store(store: RedisStore | None) -> RedisStore | None:
    """Send every enqueue that names no store to `store` (None: stop), whatever `configure`
    says meanwhile; returns the override it replaces. For test doubles (taskq.testing)."""
    global _override
    with _lock:
        previous, _override = _override, store
        return previous


def override_async_store(factory: Callable[[], AsyncStore] | None
                         ) -> Callable[[], AsyncStore] | None:
    """The async twin of override_store: `factory()` (called inside the running loop) gives
    the store every adelay()/aenqueue() uses. Returns the factory it replaces."""
    global _async_override
    with _lock:
        previous, _async_override = _async_override, factory
        return previous


def default_store() -> RedisStore:
    global _store
    store = _override if _override is not None else _store  # the common case: no lock
    if store is not None:
        return store
    with _lock:
        if _override is not None:
            return _override
        if _store is None:
            settings = _settings or Settings.from_env()
            _store = RedisStore(connect(settings), settings)
        return _store


async def default_async_store() -> AsyncStore:
    """The producers' store for the running event loop (built on first use in each loop)."""
    if _async_override is not None:
        return _async_override()
    loop = asyncio.get_running_loop()
    store = _async_stores.get(loop)
    if store is None:
        from taskq.store.aio import AsyncStore

        settings = _settings or Settings.from_env()
        url = await asyncio.to_thread(resolve_url, settings)  # may start the embedded server
        store = _async_stores.setdefault(loop, AsyncStore(connect_async(url, settings),
                                                          settings))
    return store


async def aclose() -> None:
    """Close this event loop's producer connection (call before the loop ends, for example at
    the end of the coroutine given to asyncio.run, or in an ASGI app's shutdown)."""
    store = _async_stores.pop(asyncio.get_running_loop(), None)
    if store is not None:
        await store.close()
