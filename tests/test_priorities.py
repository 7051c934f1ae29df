"""Priorities within a queue: HIGH before NORMAL before LOW, first in first out within each,
one script call per fetch, against the real server."""

from __future__ import annotations

import time

import pytest

import taskq
from taskq import HIGH, LOW
from taskq.store import RedisStore
from taskq.topology import is_cluster
from tests import workflow_tasks as w
from tests.helpers import count_round_trips, drain
from tests.test_admin_support import cli

Q = "default"


@pytest.fixture(autouse=True)
def _order() -> None:
    w.ORDER.clear()


def fetch_order(store: RedisStore, n: int) -> list[str]:
    store.register("w1", [Q], {})
    out = []
    for _ in range(n):
        (d,) = store.fetch(Q, "w1", 1)
        assert d.payload is not None
        out.append(d.payload.args[0])
    return out


def test_high_then_normal_then_low_first_in_first_out_within_each(store: RedisStore) -> None:
    for tag, priority in [("n1", None), ("h1", HIGH), ("l1", LOW), ("n2", None),
                          ("h2", HIGH), ("l2", LOW), ("h3", HIGH)]:
        w.step.enqueue(args=[tag], priority=priority)
    assert fetch_order(store, 7) == ["h1", "h2", "h3", "n1", "n2", "l1", "l2"]
    assert store.fetch(Q, "w1", 1) == []


def test_a_high_job_on_an_idle_queue_goes_where_idle_workers_wait(store: RedisStore) -> None:
    # Given an empty queue: the first HIGH job goes to ready (an idle worker blocks there)
    w.step.enqueue(args=["h1"], priority=HIGH)
    assert store.client.llen(store.keys.ready(Q)) == 1
    store.register("w1", [Q], {})
    delivery, _ = store.fetch_blocking(Q, "w1", 1.0)
    assert delivery is not None and delivery.payload is not None
    assert delivery.payload.args == ["h1"]


def test_fifo_holds_for_a_high_job_that_went_straight_to_ready(store: RedisStore) -> None:
    w.step.enqueue(args=["h1"], priority=HIGH)   # alone: to ready
    w.step.enqueue(args=["n1"])                  # behind it in ready
    w.step.enqueue(args=["h2"], priority=HIGH)   # to the high line
    assert fetch_order(store, 3) == ["h1", "h2", "n1"]


def test_a_low_job_that_went_straight_to_ready_waits_for_later_normal_ones(
        store: RedisStore) -> None:
    w.step.enqueue(args=["l1"], priority=LOW)    # alone: to ready
    w.step.enqueue(args=["n1"])
    w.step.enqueue(args=["l2"], priority=LOW)
    w.step.enqueue(args=["n2"])
    assert fetch_order(store, 4) == ["n1", "n2", "l1", "l2"]


def test_the_worker_runs_by_priority_with_one_round_trip_per_job(store: RedisStore) -> None:
    w.step.enqueue_many([("n1",), ("n2",)])
    w.step.enqueue_many([("l1",)], priority=LOW)
    w.urgent.delay("u1")                         # the task's own priority: HIGH
    w.step.enqueue_many([("h1",), ("h2",)], priority=HIGH)
    stats = taskq_stats(store)
    assert stats["ready"] == 6
    drain(store)
    assert w.ORDER == ["u1", "h1", "h2", "n1", "n2", "l1"]
    # Under load, still one script call per job (ack + fetch of the next, in any line)
    w.step.enqueue_many([(f"n{i}",) for i in range(100)])
    w.step.enqueue_many([(f"h{i}",) for i in range(50)], priority=HIGH)
    w.step.enqueue_many([(f"l{i}",) for i in range(50)], priority=LOW)
    with count_round_trips() as trips:
        runner = drain(store)
    assert runner.jobs_run == 200
    # On a Cluster, register's pipeline also reaches the nodes of the global keys (one send
    # per node); the per-job cost is the same.
    extra = 2 if is_cluster(store.client) else 0
    assert trips[0] <= 203 + extra  # one ack+fetch per job; register, first and last fetch


def test_a_delayed_high_job_is_promoted_into_the_high_line(store: RedisStore) -> None:
    w.step.enqueue(args=["n1"])
    w.step.enqueue(args=["h1"], priority=HIGH, delay=0.05)
    deadline = time.monotonic() + 10
    while store.client.zcard(store.keys.scheduled(Q)) and time.monotonic() < deadline:
        store.promote_due(Q)
        time.sleep(0.01)
    assert store.client.llen(store.keys.ready_high(Q)) == 1
    assert fetch_order(store, 2) == ["h1", "n1"]


def test_bad_priorities_are_refused() -> None:
    for bad in (2, "high", True):
        with pytest.raises(taskq.ConfigurationError):
            w.step.enqueue(args=["x"], priority=bad)  # type: ignore[arg-type]


def taskq_stats(store: RedisStore) -> dict[str, int]:
    import json

    out = cli(store.settings.url or "", "stats", "--json").stdout
    (row,) = [r for r in json.loads(out)["queues"] if r["queue"] == Q]
    return row
