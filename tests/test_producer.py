"""The producer API against a real server: @task, delay, enqueue, enqueue_many, Job handle."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from taskq.errors import (
    BadArgumentsError,
    JobFailedError,
    ResultTimeoutError,
    SerializationError,
)
from taskq.store import RedisStore
from taskq.task import DuplicateJobError, registered_tasks
from tests import sample_tasks as t
from tests.helpers import count_round_trips, drain


@pytest.mark.in_memory
def test_calling_the_function_runs_it_in_process(store: RedisStore) -> None:
    assert t.add(2, 3) == 5
    assert store.client.dbsize() == 0


def test_decorated_tasks_are_registered_under_module_and_name() -> None:
    assert registered_tasks()["tests.sample_tasks.add"] is t.add


def test_delay_enqueues_in_one_round_trip(store: RedisStore) -> None:
    t.add.delay(1, 2)  # first enqueue also records the queue name (same round trip)
    t.add.delay(1, 2)  # the next opens the thread's own connection for enqueues (FastLane)
    with count_round_trips() as trips:
        job = t.add.delay(1, 2)
    assert trips[0] == 1
    assert job.status() == "queued"
    assert store.client.llen(store.keys.ready("default")) == 3


def test_enqueue_many_of_1000_is_one_round_trip(store: RedisStore) -> None:
    t.add.delay(0, 0)
    t.add.delay(0, 0)  # opens the thread's own connection for enqueues (FastLane)
    with count_round_trips() as trips:
        jobs = t.add.enqueue_many([(i, i) for i in range(1000)])
    assert trips[0] == 1
    assert len({j.id for j in jobs}) == 1000
    assert store.client.llen(store.keys.ready("default")) == 1002


@pytest.mark.in_memory
def test_enqueue_many_accepts_args_kwargs_pairs(store: RedisStore) -> None:
    jobs = t.add.enqueue_many([((1,), {"b": 2}), ([3, 4], {})])
    drain(store)
    assert [j.result(timeout=1) for j in jobs] == [3, 7]


@pytest.mark.in_memory
def test_bad_arguments_fail_in_the_caller_and_enqueue_nothing(store: RedisStore) -> None:
    with pytest.raises(BadArgumentsError, match="missing a required argument: 'b'"):
        t.add.delay(1)  # type: ignore[call-arg]
    with pytest.raises(BadArgumentsError, match="unexpected keyword argument 'c'"):
        t.add.enqueue(args=[1, 2], kwargs={"c": 3})
    with pytest.raises(SerializationError, match=r"args\[1\]: datetime"):
        import datetime
        t.add.delay(1, datetime.datetime.now())  # type: ignore[arg-type]
    with pytest.raises(BadArgumentsError):
        t.add.enqueue_many([(1, 2), (1,)])  # one bad call: none enqueued
    assert store.client.dbsize() == 0


@pytest.mark.in_memory
def test_delayed_job_goes_to_the_scheduled_set(store: RedisStore) -> None:
    job = t.add.enqueue(args=[1, 1], delay=60)
    assert job.status() == "scheduled"
    assert store.client.zcard(store.keys.scheduled("default")) == 1
    assert store.client.llen(store.keys.ready("default")) == 0
    eta_job = t.add.enqueue(args=[1, 1], eta=time.time() + 60)
    assert eta_job.status() == "scheduled"


def test_due_jobs_are_promoted_exactly_once(store: RedisStore) -> None:
    t.add.enqueue(args=[1, 1], eta=time.time() - 1)  # already due: goes straight to ready
    t.add.enqueue(args=[2, 2], delay=0.05)
    time.sleep(0.06)
    assert store.promote_due("default") == (1, None)
    assert store.promote_due("default") == (0, None)
    assert store.client.llen(store.keys.ready("default")) == 2


@pytest.mark.in_memory
def test_explicit_job_id_is_kept_and_duplicates_refused(store: RedisStore) -> None:
    job = t.add.enqueue(args=[1, 1], job_id="order-42")
    assert job.id == "order-42"
    with pytest.raises(DuplicateJobError, match="order-42"):
        t.add.enqueue(args=[1, 1], job_id="order-42")
    drain(store)
    assert job.result(timeout=1) == 2
    # Once done, the id may be used again.
    assert t.add.enqueue(args=[5, 5], job_id="order-42").status() == "queued"


@pytest.mark.in_memory
def test_queue_option_routes_the_job(store: RedisStore) -> None:
    t.email.delay("a@example.com")
    t.add.enqueue(args=[1, 2], queue="other")
    assert store.client.llen(store.keys.ready("emails")) == 1
    assert store.client.llen(store.keys.ready("other")) == 1
    assert store.client.smembers(store.keys.queues()) == {b"emails", b"other"}


def test_result_blocks_on_the_server_until_a_worker_finishes(store: RedisStore) -> None:
    job = t.add.delay(20, 22)
    worker = threading.Timer(0.2, lambda: drain(store))
    worker.start()
    with count_round_trips() as trips:
        assert job.result(timeout=10) == 42
    worker.join()
    assert trips[0] <= 4  # read, one blocking wait, read again: no polling loop


@pytest.mark.in_memory
def test_result_of_a_dead_job_raises_job_failed(store: RedisStore) -> None:
    job = t.boom_once.delay("kaput")
    drain(store)
    with pytest.raises(JobFailedError, match="kaput"):
        job.result(timeout=1)
    assert job.status() == "dead"


def test_result_times_out_with_a_clear_error(store: RedisStore) -> None:
    job = t.add.delay(1, 1)
    with pytest.raises(ResultTimeoutError, match="still queued"):
        job.result(timeout=0.1)


@pytest.mark.in_memory
def test_job_history_records_enqueue_and_outcome(store: RedisStore) -> None:
    job = t.add.delay(1, 1)
    drain(store)
    assert [e["event"] for e in job.history()] == ["enqueued", "succeeded"]


def test_an_unreachable_server_raises_a_taskq_error(store: RedisStore) -> None:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from taskq.config import Settings
    from taskq.errors import StoreConnectionError

    client = redis.Redis(port=1, retry=Retry(NoBackoff(), 0))
    dead = RedisStore(client, Settings(url="redis://127.0.0.1:1/0"))
    with pytest.raises(StoreConnectionError, match="did not answer"):
        t.add.enqueue(args=[1, 2], store=dead)


def test_a_task_defined_in_the_running_script_is_refused_at_enqueue(store: RedisStore) -> None:
    from taskq import task
    from taskq.errors import ConfigurationError

    def local(x: int) -> int:
        return x

    local.__module__ = "__main__"
    scripted = task(local)
    assert scripted(2) == 2  # still callable in-process
    with pytest.raises(ConfigurationError, match="workers cannot import"):
        scripted.delay(1)
    assert store.client.dbsize() == 0
