"""The hot path's own connection on a redis-py client (scripting.FastLane): the same replies
and errors as the client's way, one connection per thread and per process, NOSCRIPT
survived. (taskq.wire's client, the default for one plain server, is tested in
test_wire.py; these run with TASKQ_CLIENT=redis-py.)"""

from __future__ import annotations

import os
import threading

import pytest
import redis

from taskq.errors import StoreConnectionError
from taskq.producer import default_store
from taskq.scripting import FastLane
from taskq.store import RedisStore
from tests import sample_tasks as t

pytestmark = pytest.mark.single_only("the fast lane is the client's way on a Cluster")


@pytest.fixture(autouse=True)
def redis_py_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKQ_CLIENT", "redis-py")


def lane_of(store: RedisStore) -> FastLane:
    t.add.delay(0, 0)  # records the queue (a pipeline); the next enqueue takes the lane
    t.add.delay(0, 0)
    producer = default_store()
    lane = producer.scripts._lanes.get(producer.client)
    assert isinstance(lane, FastLane)
    return lane


def test_an_enqueue_after_a_script_flush_loads_the_script_and_lands_once(
        store: RedisStore) -> None:
    lane_of(store)
    store.client.script_flush()
    job = t.add.delay(1, 2)
    assert job.status() == "queued"
    assert store.client.llen(store.keys.ready("default")) == 3


def test_each_thread_enqueues_on_a_connection_of_its_own(store: RedisStore) -> None:
    lane = lane_of(store)
    seen: list[object] = []

    def enqueue() -> None:
        t.add.delay(1, 1)
        seen.append(lane.connection())

    threads = [threading.Thread(target=enqueue) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(c) for c in [*seen, lane.connection()]}) == 4
    assert store.client.llen(store.keys.ready("default")) == 5


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents_alone(
        store: RedisStore) -> None:
    lane = lane_of(store)
    parent = lane.connection()
    pid = os.fork()
    if pid == 0:  # the child: enqueue on a new connection, never the parent's socket
        code = 0
        try:
            t.add.delay(2, 2)
            code = 0 if lane.connection() is not parent else 3
        except BaseException:
            code = 4
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert lane.connection() is parent
    t.add.delay(3, 3)  # the parent's connection still works
    assert store.client.llen(store.keys.ready("default")) == 4


def test_a_dropped_connection_is_a_store_connection_error_then_reconnects(
        store: RedisStore) -> None:
    lane = lane_of(store)
    conn = lane.connection()
    store.client.client_kill_filter(_id=_client_id(store, conn))
    # The enqueue that finds the connection dropped is retried (enqueue.lua's token makes
    # that safe) on a new connection: the job lands once.
    job = t.add.delay(4, 4)
    assert job.status() == "queued"
    assert store.client.llen(store.keys.ready("default")) == 3


def test_a_refused_command_keeps_the_connection(store: RedisStore) -> None:
    lane = lane_of(store)
    conn = lane.connection()
    with pytest.raises(redis.ResponseError):
        lane.execute(("EVALSHA", "0" * 40, 0))  # NOSCRIPT: a whole reply, read
    assert lane.connection() is conn
    assert lane.execute(("PING",)) in (b"PONG", "PONG", True)


def test_a_server_that_is_gone_raises_store_connection_error(store: RedisStore) -> None:
    lane = lane_of(store)
    port = lane.pool.connection_kwargs["port"]
    lane.pool.connection_kwargs["port"] = _closed_port()
    lane._local.conn.disconnect()
    lane._local.conn = lane.pool.make_connection()
    try:
        with pytest.raises(StoreConnectionError):
            default_store().enqueue([t.add.build([5, 5], None)])
    finally:
        lane.pool.connection_kwargs["port"] = port
        del lane._local.conn


def _client_id(store: RedisStore, conn: object) -> int:
    """The server's id of one of our connections (found by its local port)."""
    port = conn._sock.getsockname()[1]  # type: ignore[attr-defined]
    for client in store.client.client_list():
        if client["addr"].endswith(f":{port}"):
            return int(client["id"])
    raise AssertionError("connection not found in CLIENT LIST")


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
