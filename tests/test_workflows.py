"""Workflows in-process against the real server: chains, groups (chord), depends_on across
queues, parent failure, the safety-net sweep, `taskq job`'s graph, and event triggers."""

from __future__ import annotations

import json

import pytest

import taskq
from taskq.store import RedisStore
from taskq.workflows import settle, sweep_waiting
from tests import workflow_tasks as w
from tests.helpers import drain
from tests.test_admin_support import cli

Q = "default"


@pytest.fixture(autouse=True)
def _runs() -> None:
    w.RUNS.clear()


def test_a_chain_passes_each_result_on_and_runs_each_step_once(store: RedisStore) -> None:
    jobs = taskq.chain(w.add.s(1, 2), w.times.s(10), w.times.s(2))
    assert [j.status() for j in jobs] == ["queued", "waiting", "waiting"]
    drain(store)
    assert [j.result(timeout=5) for j in jobs] == [3, 30, 60]
    assert w.RUNS == {"add": 1, "times": 2}


def test_a_group_runs_its_callback_once_with_every_result_in_order(store: RedisStore) -> None:
    g = taskq.group([w.add.s(i, i) for i in range(10)], then=w.total.s())
    assert g.callback is not None and g.callback.status() == "waiting"
    drain(store)
    assert g.callback.result(timeout=5) == sum(2 * i for i in range(10))
    assert w.RUNS == {"add": 10, "total": 1}
    assert store.client.zcard(store.keys.waiting(Q)) == 0


def test_depends_on_across_queues_without_a_cross_slot_script(store: RedisStore) -> None:
    # Given a parent on queue "emails" and a dependent on "default"
    parent = w.elsewhere.delay(7)
    child = w.after.enqueue(args=["x"], depends_on=[parent])
    # When the default queue is drained first, the dependent does not run
    drain(store, (Q,))
    assert child.status() == "waiting" and "after:x" not in w.RUNS
    # Then once the parent is done on its own queue, the dependent is released and runs
    drain(store, ("emails",))
    assert child.status() == "queued"
    drain(store, (Q,))
    assert child.result(timeout=5) == "x"


def test_a_dead_parent_ends_its_dependents_dead_down_the_graph(store: RedisStore) -> None:
    parent = w.fails.delay()
    child = w.after.enqueue(args=["child"], depends_on=[parent])
    grandchild = w.after.enqueue(args=["grandchild"], depends_on=[child])
    tolerant = w.after.enqueue(args=["anyway"], depends_on=[parent],
                               on_parent_failure="run")
    drain(store)
    for job in (child, grandchild):
        record = store.job_record(Q, job.id)
        assert (record["status"], record["reason"]) == ("dead", "parent failed")
        with pytest.raises(taskq.JobFailedError):
            job.result(timeout=5)
    assert tolerant.result(timeout=5) == "anyway"
    assert "after:child" not in w.RUNS and "after:grandchild" not in w.RUNS


def test_a_parent_that_already_ended_is_settled_when_linked(store: RedisStore) -> None:
    parent = w.add.delay(2, 2)
    drain(store)
    child = w.after.enqueue(args=["late"], depends_on=[parent])
    assert child.status() == "queued"
    drain(store)
    assert child.result(timeout=5) == "late"


def test_the_sweep_resolves_a_job_whose_parent_ended_unannounced(store: RedisStore) -> None:
    # Given a parent that ended while its settling was lost (a worker died in between)
    parent = w.add.delay(1, 1)
    child = w.after.enqueue(args=["swept"], depends_on=[parent])
    store.register("test:9:w", [Q], {})
    (d,) = store.fetch(Q, "test:9:w", 1)
    assert store.ack(d, {"result": "2"}) == 2  # done, with dependents: nobody settles
    assert child.status() == "waiting"
    # When a supervisor's sweep reaches it (made due now), it is released, once
    store.client.zadd(store.keys.waiting(Q), {child.id: 0})
    assert sweep_waiting(store, Q) == 1
    assert sweep_waiting(store, Q) == 0
    assert settle(store, Q, parent.id, "done", "2") == 0  # a late settle changes nothing
    drain(store)
    assert child.result(timeout=5) == "swept"
    assert w.RUNS == {"after:swept": 1}


def test_taskq_job_shows_the_graph(settings, store: RedisStore) -> None:
    g = taskq.group([w.add.s(1, 1), w.add.s(2, 2)], then=w.total.s())
    assert g.callback is not None
    story = json.loads(cli(settings.url, "job", g.callback.id, "--json").stdout)
    assert [p["status"] for p in story["parents"]] == ["queued", "queued"]
    drain(store)
    out = cli(settings.url, "job", g.callback.id).output
    assert "waits for (parents)" in out and out.count("recorded: done") == 2
    member = cli(settings.url, "job", g.members[0].id).output
    assert "waited for by (dependents)" in member and f"default|{g.callback.id}" in member


def test_emit_enqueues_one_job_per_subscriber_once_per_event_id(store: RedisStore) -> None:
    jobs = taskq.emit("order.created", {"id": 7}, event_id="evt-1")
    assert len(jobs) == 2 and all(j.id.startswith("ev-evt-1-") for j in jobs)
    again = taskq.emit("order.created", {"id": 7}, event_id="evt-1")  # a retried emit
    assert sorted(j.id for j in again) == sorted(j.id for j in jobs)
    assert store.client.llen(store.keys.ready(Q)) == 2
    drain(store)
    assert sorted(j.result(timeout=5) for j in jobs) == ["billed 7", "told 7"]
    (updated,) = taskq.emit("order.updated", {"id": 8})  # one subscriber only
    drain(store)
    assert updated.result(timeout=5) == "told 8"
