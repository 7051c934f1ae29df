"""Failovers under running workers: kill -9 the Cluster primary that holds a busy queue (its
replica takes over), and kill -9 a Sentinel group's master (the sentinels promote the
replica). The enqueued jobs are on the replica before the kill (the test waits for
replication), so none may be lost; what replication can lose is the last writes the dead
primary had not yet sent: acks and fetches of the last moments. A lost ack makes its job run
again (at-least-once, as after a server restart without AOF); the test prints how many.

Each test starts its own topology (the failover changes it), so they are skipped on the
Cluster run (`TASKQ_TEST_TOPOLOGY=cluster`), which covers the rest of the fault tier."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from taskq.config import Settings
from taskq.connection import connect
from taskq.store import RedisStore
from tests.faults import tasks
from tests.faults.conftest import wait_until
from tests.faults.helpers import KEYS, Q
from tests.servers import ClusterProcess, SentinelGroup

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240),
              pytest.mark.single_only("starts a Cluster or Sentinel group of its own")]

JOBS = 300


def in_sync(port: int) -> bool:
    """Every replica of the primary on `port` has all of its writes."""
    with redis.Redis(port=port) as client:
        info = client.info("replication")
    offset = int(info["master_repl_offset"])
    replicas = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
    return bool(replicas) and all(int(r["offset"]) >= offset for r in replicas)


def enqueue(store: RedisStore, tags: list[str]) -> None:
    payloads = [tasks.record.build([tag, 0.01], None, job_id=tag) for tag in tags]
    assert store.enqueue(payloads) == [1] * len(payloads)


def statuses(client: Any, tags: list[str]) -> dict[str, str]:
    return {tag: (client.hget(KEYS.job(Q, tag), "status") or b"").decode() for tag in tags}


def settle(client: Any, records: redis.Redis, tags: list[str]) -> dict[str, int]:
    """Wait until every job is done (retrying reads through the failover); runs per job."""
    def done() -> bool:
        try:
            return set(statuses(client, tags).values()) == {"done"}
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            return False
    wait_until(done, f"{len(tags)} jobs done after the failover", timeout=150, interval=0.5)
    runs: dict[bytes, bytes] = records.hgetall(tasks.DONE)  # type: ignore[assignment]
    return {k.decode(): int(v) for k, v in runs.items()}


def report(kind: str, tags: list[str], runs: dict[str, int], before: int, took: float,
           log: str) -> None:
    twice = sorted(tag for tag, n in runs.items() if n > 1)
    print(f"\n{kind} failover: {before} of {len(tags)} jobs done at the kill, all done "
          f"{took:.1f} s later; ran twice (acks the replica never got): {len(twice)} "
          f"{twice[:10]}; fenced: {log.count('fenced')}; redis-unavailable: "
          f"{log.count('redis-unavailable')}")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ClusterProcess]:
    proc = ClusterProcess(tmp_path / "cluster", node_timeout_ms=2000).start()
    yield proc
    proc.stop()


def test_killing_the_primary_of_a_busy_queue_fails_over_and_loses_no_job(
        cluster: ClusterProcess, spawn: Any) -> None:
    # Given 300 jobs on one queue of a Cluster (3 primaries, each with a replica), on the
    # replica too, and a worker of two processes running them
    settings = Settings(url=cluster.url)
    store = RedisStore(connect(settings), settings)
    records = redis.Redis.from_url(cluster.records_url)
    tags = [f"c{i:03d}" for i in range(JOBS)]
    enqueue(store, tags)
    owner = cluster.owner(KEYS.ready(Q))
    wait_until(lambda: in_sync(owner.port), "the queue's replica to have every job")
    worker = spawn(cluster.url, processes=2, lease=5.0, records_url=cluster.records_url)
    wait_until(lambda: records.hlen(tasks.DONE) >= 60, "the first 60 jobs to be done")

    # When the primary holding the queue is killed with -9
    before = records.hlen(tasks.DONE)
    owner.stop(kill=True)
    killed = time.monotonic()

    # Then its replica takes over, the worker carries on there, and every job is done
    runs = settle(store.client, records, tags)
    report("Cluster", tags, runs, before, time.monotonic() - killed, worker.log())
    assert cluster.owner(KEYS.ready(Q)).port != owner.port
    assert set(runs) == set(tags)  # nothing lost
    assert before < len(tags), "the kill came too late to test anything"
    assert not store.client.exists(KEYS.ready(Q)) and not store.client.exists(KEYS.scheduled(Q))
    store.client.close()
    records.close()


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelGroup]:
    group = SentinelGroup(tmp_path / "sentinel").start()
    yield group
    group.stop()


def test_a_sentinel_failover_under_a_running_worker_loses_no_job(
        sentinels: SentinelGroup, spawn: Any) -> None:
    # Given 300 jobs on the master of a Sentinel group, on its replica too, and a worker
    # connected through the sentinels
    settings = Settings(url=sentinels.url)
    store = RedisStore(connect(settings), settings)
    records = redis.Redis.from_url(sentinels.records_url)
    tags = [f"s{i:03d}" for i in range(JOBS)]
    enqueue(store, tags)
    first = sentinels.current_master()
    wait_until(lambda: in_sync(first.port), "the replica to have every job")
    worker = spawn(sentinels.url, processes=2, lease=5.0, records_url=sentinels.records_url)
    wait_until(lambda: records.hlen(tasks.DONE) >= 60, "the first 60 jobs to be done")

    # When the master is killed with -9
    before = records.hlen(tasks.DONE)
    first.stop(kill=True)
    killed = time.monotonic()

    # Then the sentinels promote the replica, the worker resumes on it, every job is done
    runs = settle(store.client, records, tags)
    report("Sentinel", tags, runs, before, time.monotonic() - killed, worker.log())
    assert sentinels.master_port() != first.port
    assert set(runs) == set(tags)  # nothing lost
    assert before < len(tags), "the kill came too late to test anything"
    assert not store.client.exists(KEYS.ready(Q), KEYS.scheduled(Q))
    store.client.close()
    records.close()
