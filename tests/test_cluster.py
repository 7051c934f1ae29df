"""taskq on a real local Redis Cluster: queues spread over the shards, each queue's scripts,
clock and pending claims on the node that holds its hash tag, NOSCRIPT per node, admin
reads across nodes, and the doctor's view of every node.

Runs in every suite: on the session's Cluster under TASKQ_TEST_TOPOLOGY=cluster, else on a
module-wide Cluster of 3 primaries without replicas (quick to form)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import taskq
from taskq.admin.inspect import queue_stats, workers
from taskq.config import Settings
from taskq.connection import connect
from taskq.doctor import run_doctor
from taskq.keys import Keys
from taskq.store import RedisStore
from taskq.topology import is_cluster
from taskq.worker.runner import Runner
from tests import sample_tasks as t
from tests.conftest import TOPOLOGY
from tests.servers import ClusterProcess

KEYS = Keys()


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[ClusterProcess]:
    if TOPOLOGY == "cluster":
        yield request.getfixturevalue("server")
        return
    proc = ClusterProcess(tmp_path_factory.mktemp("cluster"), replicas_per_master=0).start()
    yield proc
    proc.stop()


@pytest.fixture
def cstore(cluster: ClusterProcess, tmp_path: Path) -> Iterator[RedisStore]:
    cluster.flush()
    settings = Settings(url=cluster.url, home=tmp_path / "home", lease_ttl=2.0)
    taskq.configure(settings)
    store = RedisStore(connect(settings), settings)
    yield store
    store.client.close()
    taskq.configure(None)


def spread_queues(cluster: ClusterProcess, per_node: int = 1) -> list[str]:
    """Queue names whose hash tags land on different primaries, `per_node` on each."""
    chosen: dict[int, list[str]] = {}
    for i in range(500):
        name = f"q{i}"
        port = cluster.owner(KEYS.ready(name)).port
        if len(chosen.setdefault(port, [])) < per_node:
            chosen[port].append(name)
    assert len(chosen) == cluster.masters
    return [q for names in chosen.values() for q in names]


def test_given_a_cluster_url_the_client_is_the_cluster_client(cstore: RedisStore) -> None:
    assert is_cluster(cstore.client)
    assert cstore.ping()


def test_jobs_on_queues_of_every_shard_run_once_each(
        cluster: ClusterProcess, cstore: RedisStore) -> None:
    queues = spread_queues(cluster)
    jobs = [t.add.enqueue(args=[i, 1], queue=q) for i, q in enumerate(queues)]
    jobs += t.add.enqueue_many([(i, 2) for i in range(10)])  # one batch, queue "default"
    worker_id = "test:1:w"
    cstore.register(worker_id, [*queues, "default"], {"host": "test", "pid": 1})
    Runner(cstore, worker_id, (*queues, "default"), stop=threading.Event(), burst=True).run()
    assert [j.result(timeout=5) for j in jobs] == [i + 1 for i in range(len(queues))] + \
        [i + 2 for i in range(10)]
    stats = {s.queue: s for s in queue_stats(cstore, [*queues, "default"])}
    assert all(stats[q].done_last_minute == 1 and stats[q].ready == 0 for q in queues)
    assert [w.id for w in workers(cstore)] == [worker_id]


def test_every_key_of_a_queue_lives_on_the_node_of_its_hash_tag(
        cluster: ClusterProcess) -> None:
    for queue in spread_queues(cluster):
        owners = {cluster.owner(key).port for key in KEYS.queue_keys(queue)}
        assert len(owners) == 1


def test_lease_clock_is_read_from_the_node_of_each_queue(
        cluster: ClusterProcess, cstore: RedisStore) -> None:
    queues = spread_queues(cluster)
    for q in queues:
        cstore.lease_clock_ms(KEYS.leases(q))
    node_names = {cstore.client.get_node_from_key(KEYS.leases(q)).name for q in queues}
    assert set(cstore._clock) == node_names  # one measured offset per node, by TIME there
    assert len(node_names) == cluster.masters
    cstore.register("test:1:w", queues, {"host": "test"})  # stamped in lease.lua, per node
    assert not any(cstore.expired_workers(q) for q in queues)


def test_a_blocking_fetch_guards_and_claims_on_the_node_of_its_queue(
        cluster: ClusterProcess, cstore: RedisStore) -> None:
    for queue in spread_queues(cluster):
        job = t.add.enqueue(args=[1, 1], queue=queue)
        cstore.register("test:1:w", [queue], {})
        delivery, covered = cstore.fetch_blocking(queue, "test:1:w", 1)
        assert covered and delivery is not None and delivery.job_id == job.id
        assert cstore.client.hexists(KEYS.running(queue), job.id)


def test_scripts_flushed_from_one_node_are_loaded_again_there(
        cluster: ClusterProcess, cstore: RedisStore) -> None:
    queues = spread_queues(cluster)
    t.add.enqueue(args=[0, 0], queue=queues[0])
    for node in cluster.primaries():
        with redis.Redis(port=node.port) as client:
            client.script_flush()
    for queue in queues:  # single EVALSHA, then a pipelined batch, per node
        assert t.add.enqueue(args=[1, 1], queue=queue).status() == "queued"
        jobs = t.add.enqueue_many([(2, 2), (3, 3)], queue=queue)
        assert all(j.status() == "queued" for j in jobs)


def test_doctor_checks_every_node(cluster: ClusterProcess, cstore: RedisStore) -> None:
    checks = {c.name: c for c in run_doctor(cstore.settings, cstore.client)}
    assert f"Cluster of {cluster.masters} primaries" in checks["cluster"].detail
    assert checks["persistence"].level == "problem"  # the test nodes run without AOF/RDB
    assert checks["maxmemory-policy"].detail.startswith("every node")
    assert checks["lua"].level == "ok"


def test_a_plain_url_to_a_cluster_node_is_a_problem_for_the_doctor(
        cluster: ClusterProcess, tmp_path: Path) -> None:
    node = cluster.primaries()[0]
    settings = Settings(url=node.url, home=tmp_path)
    client: Any = connect(settings)
    try:
        checks = {c.name: c for c in run_doctor(settings, client)}
    finally:
        client.close()
    assert checks["cluster"].level == "problem" and "redis+cluster://" in checks["cluster"].fix
