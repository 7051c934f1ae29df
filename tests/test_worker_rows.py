"""The ack table, one test per row, with the runner in-process: decision rows on the in-memory
backend (the real store and scripts on fakeredis), fencing, leases and recovery on a real server."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import pytest

from taskq.job import Payload, decode
from taskq.store import RedisStore
from taskq.worker.recovery import CRASH, SHUTDOWN, CrashInfo, recover_worker
from taskq.worker.runner import Runner
from tests import sample_tasks as t
from tests.helpers import count_round_trips, drain

Q = "default"


def record(store: RedisStore, job_id: str, queue: str = Q) -> dict[str, str]:
    return store.job_record(queue, job_id)


def assert_nowhere_active(store: RedisStore, worker_id: str = "test:1:w") -> None:
    assert store.client.llen(store.keys.active(Q, worker_id)) == 0
    assert store.client.hlen(store.keys.running(Q)) == 0


@pytest.mark.in_memory
def test_success_stores_result_with_ttl_and_ends_the_job(store: RedisStore) -> None:
    job = t.add.delay(2, 3)
    drain(store)
    rec = record(store, job.id)
    assert (rec["status"], json.loads(rec["result"]), rec["worker"]) == ("done", 5, "test:1:w")
    assert 0 < store.client.ttl(store.keys.job(Q, job.id)) <= store.settings.result_ttl
    # A first-time success keeps no history list: its story is told from the hash.
    assert not store.client.exists(store.keys.history(Q, job.id))
    assert [e["event"] for e in store.history(Q, job.id)] == ["enqueued", "succeeded"]
    assert_nowhere_active(store)


@pytest.mark.in_memory
def test_failure_with_retries_left_is_scheduled_with_next_attempt(store: RedisStore) -> None:
    job = t.boom.delay("first")
    store.register("test:1:w", [Q], {})
    Runner(store, "test:1:w", [Q], stop=threading.Event()).run_once(block=False)
    rec = record(store, job.id)
    assert rec["status"] in ("scheduled", "queued")
    assert (rec["error_type"], rec["error"]) == ("ValueError", "first")
    (raw,) = store.client.zrange(store.keys.scheduled(Q), 0, -1)
    assert decode(raw).attempt == 2
    assert_nowhere_active(store)


@pytest.mark.in_memory
def test_failure_out_of_retries_goes_to_dead_letters_with_details(store: RedisStore) -> None:
    job = t.boom.delay("always")  # retries=2: three attempts in all
    for _ in range(3):
        deadline = time.time() + 5
        while not store.client.llen(store.keys.ready(Q)) and time.time() < deadline:
            store.promote_due(Q)
        drain(store)
    rec = record(store, job.id)
    assert (rec["status"], rec["reason"], rec["attempts"]) == ("dead", "failed", "3")
    assert "ValueError: always" in rec["traceback"]
    assert store.client.zscore(store.keys.dead(Q), job.id) is not None
    events = [e["event"] for e in store.history(Q, job.id)]
    assert events == ["enqueued", "retrying", "retrying", "dead-lettered"]


def test_unknown_task_is_handed_back_then_dead_when_nobody_knows_it(store: RedisStore) -> None:
    # (the row in full, with live workers that know the task, is in test_task_routing.py)
    payload = Payload(id="u1", task="nowhere.missing", queue=Q)
    store.enqueue([payload])
    drain(store)
    assert record(store, "u1")["status"] in ("scheduled", "queued")  # within the grace
    # With no grace left (a grace of 0 here), the next worker that takes it dead-letters it.
    store.settings = replace(store.settings, unknown_task_grace=0)
    store.client.hdel(store.keys.job(Q, "u1"), "unknown_since")
    for raw in store.client.zrange(store.keys.scheduled(Q), 0, -1):
        store.client.zadd(store.keys.scheduled(Q), {raw: 0})  # due now
    store.promote_due(Q)
    drain(store)
    rec = record(store, "u1")
    assert (rec["status"], rec["reason"]) == ("dead", "unknown-task")
    assert "nowhere.missing" in rec["error"]


@pytest.mark.in_memory
def test_undecodable_payload_is_dead_at_once_with_its_raw_bytes(store: RedisStore) -> None:
    store.client.lpush(store.keys.ready(Q), b"\xffnot json")
    t.add.delay(1, 1)  # the queue carries on after the poison
    drain(store)
    (dead_id,) = store.client.zrange(store.keys.dead(Q), 0, -1)
    rec = record(store, dead_id.decode())
    assert rec["reason"] == "undecodable"
    assert store.client.hget(store.keys.job(Q, dead_id.decode()), "payload") == b"\xffnot json"
    assert store.client.llen(store.keys.ready(Q)) == 0


@pytest.mark.in_memory
def test_arguments_that_do_not_fit_are_dead_at_once(store: RedisStore) -> None:
    store.enqueue([Payload(id="b1", task="tests.sample_tasks.add", queue=Q, args=[1],
                           retries=5)])
    drain(store)
    rec = record(store, "b1")
    assert (rec["status"], rec["reason"]) == ("dead", "bad-arguments")
    assert "missing a required argument" in rec["error"]


@pytest.mark.in_memory
def test_retry_raised_by_the_task_reschedules_without_counting(store: RedisStore) -> None:
    job = t.again.delay(30)
    drain(store)
    (raw,) = store.client.zrange(store.keys.scheduled(Q), 0, -1)
    assert decode(raw).attempt == 1
    minute = int(time.time() // 60)
    assert store.client.get(store.keys.counter(Q, "failed", minute)) is None
    assert record(store, job.id)["status"] == "scheduled"


def test_ack_by_a_worker_that_lost_the_job_is_refused(store: RedisStore) -> None:
    job = t.add.delay(1, 2)
    store.register("stale:1:a", [Q], {})
    (delivery,) = store.fetch(Q, "stale:1:a")
    # The lease lapses; another worker takes the job back.
    store.client.zadd(store.keys.leases(Q), {"stale:1:a": 0})
    crash = CrashInfo("h", 1, None, "lease expired")
    assert recover_worker(store, Q, "stale:1:a", CRASH, crash=crash, only_if_expired=True) == 1
    assert not store.ack(delivery, {"result": "99"})  # 0: fenced
    assert not store.dead_letter(delivery, "dead-lettered", {"reason": "x"})
    assert store.retry(delivery, delivery.payload, 0, True, "retrying", {}) is False  # type: ignore[arg-type]
    assert record(store, job.id)["status"] == "queued"
    drain(store, worker_id="fresh:2:b")
    assert job.result(timeout=1) == 3
    assert decode(store.client.hget(store.keys.job(Q, job.id), "payload")).crashes == 1


def test_recovery_refuses_a_worker_whose_lease_is_alive(store: RedisStore) -> None:
    t.add.delay(1, 2)
    store.register("alive:1:a", [Q], {})
    store.fetch(Q, "alive:1:a")
    assert recover_worker(store, Q, "alive:1:a", CRASH, only_if_expired=True) == -1
    assert store.client.llen(store.keys.active(Q, "alive:1:a")) == 1


def test_fetch_by_a_worker_without_lease_is_refused(store: RedisStore) -> None:
    import pytest

    from taskq.errors import LeaseLostError

    t.add.delay(1, 2)
    with pytest.raises(LeaseLostError):
        store.fetch(Q, "nolease:1:a")
    assert store.client.llen(store.keys.ready(Q)) == 1


def test_shutdown_requeues_at_the_head_of_ready(store: RedisStore) -> None:
    first, second = t.add.delay(1, 1), t.add.delay(2, 2)
    store.register("w:1:a", [Q], {})
    store.fetch(Q, "w:1:a")
    assert recover_worker(store, Q, "w:1:a", SHUTDOWN) == 1
    # The ready list is taken from the right: the head is the last element.
    ids = [decode(r).id for r in store.client.lrange(store.keys.ready(Q), 0, -1)]
    assert ids == [second.id, first.id]


def test_poison_after_k_crashes(store: RedisStore) -> None:
    job = t.add.delay(1, 1)
    crash = CrashInfo("host-a", 4242, "SIGKILL", "killed by SIGKILL")
    for n in range(store.settings.poison_crashes):
        worker = f"w:{n}:x"
        store.register(worker, [Q], {})
        store.fetch(Q, worker)
        recover_worker(store, Q, worker, CRASH, crash=crash)
    rec = record(store, job.id)
    assert (rec["status"], rec["reason"]) == ("dead", "poison")
    assert json.loads(rec["last_crash"]) == {"host": "host-a", "pid": 4242,
                                             "signal": "SIGKILL", "reason": "killed by SIGKILL"}


def test_under_load_each_job_costs_about_one_round_trip(store: RedisStore) -> None:
    t.add.enqueue_many([(i, i) for i in range(200)])
    store.register("w:1:a", [Q], {})
    runner = Runner(store, "w:1:a", [Q], stop=threading.Event(), burst=True)
    store.fetch(Q, "w:1:a", 0)  # takes nothing; opens this thread's FastLane (its handshake)
    with count_round_trips() as trips:
        runner.run()
    assert runner.jobs_run == 200
    assert trips[0] <= 202  # one ack+fetch pipeline per job, plus the first fetch


@pytest.mark.in_memory
def test_several_queues_are_served_in_the_order_given(store: RedisStore) -> None:
    low = t.add.enqueue(args=[1, 1], queue="low")
    high = t.add.enqueue(args=[2, 2], queue="high")
    runner = drain(store, queues=("high", "low"))
    assert runner.jobs_run == 2
    assert float(record(store, high.id, "high")["finished_at"]) <= float(
        record(store, low.id, "low")["finished_at"])


@pytest.mark.in_memory
def test_a_result_json_cannot_hold_is_a_failure_not_done(store: RedisStore) -> None:
    from taskq.errors import JobFailedError

    job = t.returns_set.delay()
    drain(store)
    with pytest.raises(JobFailedError, match="returned a set"):
        job.result(timeout=1)
    rec = record(store, job.id)
    assert (rec["status"], rec["reason"]) == ("dead", "unserializable-result")
    assert store.client.zcard(store.keys.scheduled(Q)) == 0  # ran once: not retried blindly


def test_a_task_raising_retry_forever_ends_in_dead_letters(store: RedisStore) -> None:
    from dataclasses import replace

    limited = RedisStore(store.client, replace(store.settings, retry_request_limit=3))
    job = t.again.delay(0)
    for _ in range(4):
        deadline = time.time() + 5
        while not limited.client.llen(limited.keys.ready(Q)) and time.time() < deadline:
            limited.promote_due(Q)
        drain(limited)
    rec = record(store, job.id)
    assert (rec["status"], rec["reason"]) == ("dead", "retried too often")


def test_a_retried_job_reads_active_while_it_runs(store: RedisStore) -> None:
    job = t.again.delay(0)
    drain(store)  # raised Retry: the hash says scheduled
    store.promote_due(Q)
    store.register("w:1:r", [Q], {})
    (_held,) = store.fetch(Q, "w:1:r")
    assert job.status() == "active"


def test_blocking_fetch_by_a_worker_without_lease_hands_the_job_back(
        store: RedisStore) -> None:
    import pytest

    from taskq.errors import LeaseLostError

    job = t.add.delay(1, 2)
    with pytest.raises(LeaseLostError):  # the claim is confirmed before anything runs
        store.fetch_blocking(Q, "gone:1:a", timeout=1)
    assert store.client.llen(store.keys.active(Q, "gone:1:a")) == 0
    assert [decode(r).id for r in store.client.lrange(store.keys.ready(Q), 0, -1)] == [job.id]
    # and the guard before the BLMOVE entered the worker in the departed set
    assert store.client.zscore(store.keys.departed(Q), "gone:1:a") is not None


def test_a_repeated_enqueue_of_the_same_payload_is_not_a_duplicate(store: RedisStore) -> None:
    payload = t.add.build([1, 2], None, job_id="same")
    assert store.enqueue([payload]) == [1]
    assert store.enqueue([payload]) == [1]  # a retry after a lost reply
    assert store.client.llen(store.keys.ready(Q)) == 1


def test_reusing_a_done_jobs_id_does_not_wake_waiters_early(store: RedisStore) -> None:
    import pytest

    from taskq.errors import ResultTimeoutError

    first = t.add.enqueue(args=[1, 1], job_id="again")
    drain(store)
    assert first.result(timeout=1) == 2
    second = t.add.enqueue(args=[2, 2], job_id="again")
    with count_round_trips() as trips, pytest.raises(ResultTimeoutError):
        second.result(timeout=0.2)
    assert trips[0] <= 3  # read, one blocking wait that times out, read


def test_leases_follow_the_servers_clock_not_a_skewed_local_one(
        store: RedisStore, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import taskq.store.base as store_module

    real_time = time.time
    monkeypatch.setattr(store_module.time, "time", lambda: real_time() + 3600)  # 1 h fast
    server_s, server_us = store.client.time()
    assert abs(store.lease_clock_ms() - (server_s * 1000 + server_us // 1000)) < 1000


def test_a_repeated_enqueue_after_the_job_ran_does_not_run_it_again(store: RedisStore) -> None:
    payload = t.add.build([1, 2], None, job_id="once")
    store.enqueue([payload])
    drain(store)
    assert store.enqueue([payload]) == [1]  # the retry of an enqueue whose reply was lost
    assert store.client.llen(store.keys.ready(Q)) == 0
    assert record(store, "once")["status"] == "done"


@pytest.mark.in_memory
def test_a_payload_with_wrong_field_types_is_dead_lettered_not_crashing(
        store: RedisStore) -> None:
    store.client.lpush(store.keys.ready(Q),
                       b'{"v":1,"id":123,"task":"tests.sample_tasks.add","queue":"default",'
                       b'"args":[1,2]}')
    later = t.add.delay(1, 1)
    runner = drain(store)
    assert runner.jobs_run == 2 and later.result(timeout=1) == 2
    (dead_id,) = store.client.zrange(store.keys.dead(Q), 0, -1)
    assert dead_id.startswith(b"bad-")
    assert "'id' has the wrong type" in record(store, dead_id.decode())["error"]


def test_recovery_keeps_the_lease_of_a_worker_that_still_holds_a_job(
        store: RedisStore) -> None:
    t.add.delay(1, 2)
    store.register("w:1:a", [Q], {})
    store.fetch(Q, "w:1:a")  # taken after the recoverer read an empty list
    assert store.release(Q, "w:1:a", [], only_if_expired=False, drop_lease=True) == (0, 1)
    assert store.client.zscore(store.keys.leases(Q), "w:1:a") is not None
    assert recover_worker(store, Q, "w:1:a", SHUTDOWN) == 1  # reads again: all moved
    assert store.client.zscore(store.keys.leases(Q), "w:1:a") is None


@pytest.mark.in_memory
def test_per_call_options_are_validated_at_enqueue(store: RedisStore) -> None:
    import pytest

    from taskq.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="retries"):
        t.add.enqueue(args=[1, 2], retries="3")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="timeout"):
        t.add.enqueue(args=[1, 2], timeout="5")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="job_id"):
        t.add.enqueue(args=[1, 2], job_id="x" * 65)
    assert store.client.dbsize() == 0


def test_a_success_nobody_waits_for_leaves_no_notify_list(store: RedisStore) -> None:
    unwatched, watched = t.add.delay(1, 1), t.add.delay(2, 2)
    store.watch(Q, watched.id)  # what Job.result() does before it blocks
    drain(store)
    assert not store.client.exists(store.keys.notify(Q, unwatched.id))
    assert store.client.lrange(store.keys.notify(Q, watched.id), 0, -1) == [b"done"]
