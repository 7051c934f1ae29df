"""Stopping workers with SIGTERM: jobs finish within the grace period or go back to the head of
the line, and a full lifecycle leaves exactly the keys it should."""

from __future__ import annotations

import re
import signal

import pytest
import redis

from taskq.job import decode
from taskq.store import RedisStore
from tests.faults import tasks
from tests.faults.helpers import (
    KEYS,
    Q,
    events,
    job_hash,
    job_payload,
    stop_cleanly,
    wait_started,
    wait_status,
    worker_residue,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]


def test_sigterm_lets_the_running_job_finish_within_grace(server, store: RedisStore,
                                                          redis_client, records, spawn) -> None:
    # Given a worker in the middle of a job
    worker = spawn(server.url, grace=30)
    tasks.hold.enqueue(args=["g1"], job_id="g1", store=store)
    wait_started(records, "g1")

    # When it gets SIGTERM and the job then ends within the grace period
    worker.signal(signal.SIGTERM)
    worker.wait_log("worker-stopping")
    records.rpush(tasks.release_key("g1"), "go")

    # Then the job is done, once, and the worker exits 0 leaving nothing behind
    assert worker.wait() == 0, worker.log()[-3000:]
    assert job_hash(redis_client, "g1")["status"] == "done"
    assert events(redis_client, "g1") == ["enqueued", "succeeded"]
    assert records.hget(tasks.DONE, "g1") == b"1"
    assert records.llen(tasks.starts_key("g1")) == 1
    assert worker_residue(redis_client) == []


def test_sigterm_requeues_a_job_that_outlives_grace_at_the_head(server, store: RedisStore,
                                                                redis_client, records,
                                                                spawn) -> None:
    # Given a worker (grace 0.5 s) in the middle of a long job, and two jobs waiting behind it
    worker = spawn(server.url, grace=0.5)
    tasks.hold.enqueue(args=["long"], job_id="long", store=store)
    wait_started(records, "long")
    for tag in ("next1", "next2"):
        tasks.record.enqueue(args=[tag], job_id=tag, store=store)

    # When it gets SIGTERM and the job is still running when the grace period ends
    worker.signal(signal.SIGTERM)

    # Then the worker exits 0, and the job is back in ready exactly once, at the head
    assert worker.wait() == 0, worker.log()[-3000:]
    ready = [decode(raw).id for raw in redis_client.lrange(KEYS.ready(Q), 0, -1)]
    assert ready == ["next2", "next1", "long"]  # consumed from the right: "long" is next
    assert job_hash(redis_client, "long")["status"] == "queued"
    assert events(redis_client, "long") == ["enqueued", "requeued"]
    assert job_payload(redis_client, "long").crashes == 0  # a shutdown is not a crash
    assert worker_residue(redis_client) == []
    assert records.hget(tasks.DONE, "long") is None

    # and a new worker runs it first, then the others
    records.rpush(tasks.release_key("long"), "go")
    again = spawn(server.url)
    for tag in ("long", "next1", "next2"):
        wait_status(redis_client, tag, "done")
        assert records.hget(tasks.DONE, tag) == b"1"
    assert records.llen(tasks.starts_key("long")) == 2
    finished = {tag: float(job_hash(redis_client, tag)["finished_at"])
                for tag in ("long", "next1")}
    assert finished["long"] < finished["next1"]
    stop_cleanly(again)


def test_a_second_signal_requeues_at_once_without_waiting_for_grace(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given a worker with a long grace period in the middle of a long job
    worker = spawn(server.url, grace=60)
    tasks.hold.enqueue(args=["twice"], job_id="twice", store=store)
    wait_started(records, "twice")

    # When it gets SIGTERM, and then SIGINT (a second Ctrl-C) while the job still runs
    worker.signal(signal.SIGTERM)
    worker.wait_log("worker-stopping")
    worker.signal(signal.SIGINT)

    # Then it exits 0 well before the grace period (the wait is bounded by the test's
    # timeout, far below 60 s) and the job is back at the head of ready, uncounted
    assert worker.wait() == 0, worker.log()[-3000:]
    assert [decode(raw).id for raw in redis_client.lrange(KEYS.ready(Q), 0, -1)] == ["twice"]
    assert events(redis_client, "twice") == ["enqueued", "requeued"]
    assert job_payload(redis_client, "twice").crashes == 0
    assert worker_residue(redis_client) == []


def test_sigusr1_dumps_the_childrens_thread_stacks_and_the_job_goes_on(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given a worker in the middle of a job
    worker = spawn(server.url)
    tasks.hold.enqueue(args=["dump"], job_id="dump", store=store)
    wait_started(records, "dump")

    # When it gets SIGUSR1
    worker.signal(signal.SIGUSR1)

    # Then the child prints every thread's stack (the runner is inside the task), and the job
    # still finishes normally. faulthandler writes the dump in pieces, so wait for the task's
    # frame rather than the first header; the thread that took the signal is "Current thread",
    # and a child with no helper thread (a Cluster: acks are not sent ahead) has no other.
    log = worker.wait_log("in hold")
    assert "most recent call first" in log
    assert re.search(r"(Current thread|Thread) 0x[0-9a-f]+", log), log[-3000:]
    records.rpush(tasks.release_key("dump"), "go")
    wait_status(redis_client, "dump", "done")
    stop_cleanly(worker)


def test_full_lifecycle_leaves_exactly_the_expected_keys(server, store: RedisStore,
                                                         redis_client: redis.Redis, records,
                                                         spawn) -> None:
    # Given jobs that succeed, one that succeeds on retry, one delayed, one that dies
    worker = spawn(server.url, processes=2)
    done_ids = ["d1", "d2", "d3"]
    for tag in done_ids:
        tasks.record.enqueue(args=[tag], job_id=tag, store=store)
    tasks.flaky.enqueue(args=["f1"], job_id="f1", store=store)
    tasks.record.enqueue(args=["e1"], job_id="e1", delay=0.3, store=store)
    tasks.fail.enqueue(args=["x1"], job_id="x1", store=store)
    done_ids += ["f1", "e1"]

    # When they have all ended and the worker was stopped with SIGTERM
    for tag in done_ids:
        wait_status(redis_client, tag, "done")
    wait_status(redis_client, "x1", "dead")
    stop_cleanly(worker)

    # Then exactly these keys are left
    q = Q
    # The events stream stays, bounded by Settings.events_maxlen / events_max_age.
    expected = {KEYS.queues(), KEYS.dead(q), KEYS.events(q)}
    for jid in [*done_ids, "x1"]:
        expected.add(KEYS.job(q, jid))
    # A success signals its notify list only when someone waits in Job.result(); nobody
    # did here. A death always signals.
    expected.add(KEYS.notify(q, "x1"))
    # A history list exists only where something besides enqueue and success happened.
    with_story = ["f1", "x1"]
    expected |= {KEYS.history(q, jid) for jid in with_story}
    names = {k.decode() for k in redis_client.scan_iter(count=1000)}
    counter_prefix = KEYS.counter(q, "done", 0).rsplit(":", 2)[0]
    counter = re.compile(re.escape(counter_prefix) + r":(done|failed):\d+$")
    counters = {n for n in names if counter.match(n)}
    # The task names the workers published count as long as their leases; the key expires
    # an hour after the last one (admin views read when the last worker left).
    known = KEYS.known_tasks(q)
    assert 0 < redis_client.pttl(known) <= store.settings.lease_ttl * 1000 + 3_600_000
    assert names - counters - {known} == expected

    # finished jobs expire, the dead one is kept until someone deals with it
    for jid in done_ids:
        story = (KEYS.history(q, jid),) if jid in with_story else ()
        for key in (KEYS.job(q, jid), *story):
            assert 0 < redis_client.ttl(key) <= store.settings.result_ttl, key
    for key in (KEYS.job(q, "x1"), KEYS.history(q, "x1"), KEYS.notify(q, "x1"),
                KEYS.dead(q), KEYS.queues()):
        assert redis_client.ttl(key) == -1, key
    assert redis_client.zrange(KEYS.dead(q), 0, -1) == [b"x1"]

    # and the counters, kept for a few minutes, add up to what happened
    totals = {"done": 0, "failed": 0}
    for name in counters:
        outcome = counter.match(name).group(1)  # type: ignore[union-attr]
        totals[outcome] += int(redis_client.get(name) or 0)
        assert 0 < redis_client.ttl(name) <= 180
    assert totals == {"done": 5, "failed": 2}  # failed: f1's first run, and x1
