"""Shared fixtures. The integration server is ours: started once per session on a free port
in a temp folder, flushed before each test, stopped at the end. Nothing here ever connects to
a server it did not start.

TASKQ_TEST_TOPOLOGY=cluster points the same fixtures at a local Redis Cluster (3 primaries,
each with a replica) instead of one server: `server.url` is then a redis+cluster:// URL,
`redis_client` a cluster client, and every primary is flushed before each test. Tests that
cannot apply to a Cluster are marked `single_only` and skipped there with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import taskq
from taskq.config import Settings
from taskq.connection import connect, redis_py_client
from taskq.store import RedisStore
from taskq.testing import InMemoryBackend
from tests.servers import ClusterProcess, ServerProcess

TOPOLOGY = os.environ.get("TASKQ_TEST_TOPOLOGY", "single")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if TOPOLOGY != "cluster":
        return
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.skip(reason="not on a Cluster: the browser tier runs "
                                              "in the single-server runs (it would add minutes "
                                              "here and exercises the same store paths)"))
            continue
        marker = item.get_closest_marker("single_only")
        if marker is not None:
            reason = marker.args[0] if marker.args else "needs one plain server"
            item.add_marker(pytest.mark.skip(reason=f"not on a Cluster: {reason}"))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The session's server: a ServerProcess, or a ClusterProcess with the same `url`,
    `records_url` and `flush()` under TASKQ_TEST_TOPOLOGY=cluster."""
    folder = tmp_path_factory.mktemp("server")
    proc: Any = (ClusterProcess(folder) if TOPOLOGY == "cluster" else ServerProcess(folder))
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def redis_client(server: Any) -> Iterator[Any]:
    """A client on the server under test (a cluster client on a Cluster), after a flush."""
    server.flush()
    client = redis_py_client(server.url, Settings(url=server.url))  # to inspect: redis-py
    yield client
    client.close()


@pytest.fixture
def settings(server: Any, redis_client: Any, tmp_path: Path) -> Settings:
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
    s = RedisStore(connect(settings), settings)
    yield s
    s.client.close()
    taskq.configure(None)
