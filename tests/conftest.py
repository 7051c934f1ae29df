"""Shared fixtures. The integration server is ours: started once per session on a free port
in a temp folder, flushed before each test, stopped at the end. Nothing here ever connects to
a server it did not start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import taskq
from taskq.config import Settings
from taskq.store import RedisStore
from taskq.testing import InMemoryBackend
from tests.servers import ServerProcess


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("server")).start()
    yield proc
    proc.stop()


@pytest.fixture
def redis_client(server: ServerProcess) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(server.url)
    client.flushall()
    client.script_flush()
    yield client
    client.close()


@pytest.fixture
def settings(server: ServerProcess, redis_client: redis.Redis, tmp_path: Path) -> Settings:
    return Settings(url=server.url, home=tmp_path / "home", lease_ttl=2.0)


@pytest.fixture
def store(request: pytest.FixtureRequest) -> Iterator[RedisStore]:
    """The real store on our real server; on taskq.testing's in-memory backend (the same
    store and Lua scripts on fakeredis, no server) for tests marked `in_memory`: runner
    decisions and producer logic. Guarantees of the scripts stay on the real server."""
    if request.node.get_closest_marker("in_memory"):
        with InMemoryBackend() as backend:
            yield backend.store
        return
    settings: Settings = request.getfixturevalue("settings")
    taskq.configure(settings)
    s = RedisStore(redis.Redis.from_url(settings.url or ""), settings)
    yield s
    s.client.close()
    taskq.configure(None)
