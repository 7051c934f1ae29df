"""Batched acknowledgements (taskq/worker/acks.py), in-process on a real server: jobs ending
back to back are acknowledged together with the next fetch; an acknowledgement never waits
behind a long job for more than the window; what they change in a job's end is nothing."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from taskq import task
from taskq.config import Settings
from taskq.errors import StoreConnectionError
from taskq.job import Payload
from taskq.store import RedisStore
from taskq.worker import decision as d
from taskq.worker.acks import AckBatch, PendingAck
from taskq.worker.child import ChildSpec, ack_batch
from taskq.worker.runner import Runner
from tests import sample_tasks as t
from tests.helpers import count_round_trips

Q = "default"
WORKER = "test:1:w"
release = threading.Event()


@task(queue=Q)
def wait_for_release() -> str:
    assert release.wait(20), "the test never released this job"
    return "released"


def runner_with_batches(store: RedisStore, window: float) -> Runner:
    store.register(WORKER, [Q], {"host": "test", "pid": 1})
    return Runner(store, WORKER, [Q], stop=threading.Event(), burst=True,
                  acks=AckBatch(store, 32, window).start())


def test_jobs_ending_back_to_back_are_acknowledged_together(store: RedisStore) -> None:
    jobs = t.add.enqueue_many([(i, 1) for i in range(200)], store=store)
    runner = runner_with_batches(store, window=1.0)
    with count_round_trips() as calls:
        assert runner.run() == 200
    for i, job in enumerate(jobs):
        rec = store.job_record(Q, job.id)
        assert (rec["status"], json.loads(rec["result"]), rec["worker"]) == ("done", i + 1, WORKER)
    assert store.client.llen(store.keys.active(Q, WORKER)) == 0
    assert store.client.hlen(store.keys.running(Q)) == 0
    # One call per job without batches; here the first jobs go one by one (the runner
    # learns how fast they are), then up to 32 per call.
    print(f"\n200 jobs, batched acks: {calls[0]} round trips")
    assert calls[0] < 60


def test_an_ack_does_not_wait_behind_a_long_job(store: RedisStore) -> None:
    release.clear()
    quick = t.add.delay(1, 2)
    t.add.delay(3, 4)
    waiting = wait_for_release.delay()
    runner = runner_with_batches(store, window=0.05)
    runner._pace = 0.001  # as if jobs had been quick: it fetches all three at once
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        # The quick jobs ended; the long one runs: their acks go out within the window,
        # sent by the timer, not after the long job.
        done = _wait_for(lambda: store.job_record(Q, quick.id).get("status") == "done")
        assert done, f"still {store.job_record(Q, quick.id).get('status')} behind a long job"
        assert store.job_record(Q, waiting.id).get("status") == "active"
    finally:
        release.set()
        thread.join(20)
    assert store.job_record(Q, waiting.id)["status"] == "done"


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize(("threads", "queues", "window", "batched"), [
    (1, ("a",), 0.005, True),
    (1, ("a",), 0.0, False),  # --ack-window 0
    (4, ("a",), 0.005, False),  # runner threads acknowledge each job
    (1, ("a", "b"), 0.005, False),  # acks travel with one queue's fetch
])
def test_which_children_batch(threads: int, queues: tuple[str, ...], window: float,
                              batched: bool) -> None:
    spec = ChildSpec(Settings(url="redis://127.0.0.1:1/0"), queues, threads=threads,
                     ack_window=window)
    batch = ack_batch(spec, None, threads)  # type: ignore[arg-type]
    assert (batch is not None) == batched
    if batch is not None:
        batch.close()


RUNS: Counter[str] = Counter()


@task(queue=Q)
def counted(tag: str) -> str:
    RUNS[tag] += 1
    return tag


class _QuietLog:
    def warning(self, *args: object, **kwargs: object) -> None:
        pass


def test_the_timer_backs_off_while_redis_refuses_its_acks(store: RedisStore) -> None:
    calls = [0]

    class Refusing:
        def ack_and_fetch(self, *args: object) -> None:
            calls[0] += 1
            raise StoreConnectionError("refused")

    batch = AckBatch(Refusing(), 32, 0.005).start()  # type: ignore[arg-type]
    raw = Payload(id="j1", task="x", queue=Q).encode()
    item = PendingAck(store.delivery(Q, WORKER, raw), d.Outcome(d.SUCCEEDED, result="1"),
                      d.Action("ack"), {"result": "1"}, None, _QuietLog(), time.monotonic())
    batch.add(item)
    time.sleep(1.0)
    batch.close()
    # Doubling waits from the window: about 8 tries in a second, not one per loop turn.
    assert 1 <= calls[0] <= 20
    assert batch.take() == [item] and item.uncertain  # kept for the runner's own send


def test_adopting_orphans_never_reruns_a_job_whose_ack_is_in_flight(
        store: RedisStore) -> None:
    RUNS.clear()
    job = counted.delay("a")
    runner = runner_with_batches(store, window=0.005)
    real = store.ack_and_fetch

    def slow_from_the_timer(*args: Any) -> Any:
        if threading.current_thread().name == "taskq-acks":
            time.sleep(0.5)  # its call stuck on a bad socket for a while
        return real(*args)

    store.ack_and_fetch = slow_from_the_timer  # type: ignore[method-assign]
    assert runner.run_once(block=False)  # runs "a"; its ack waits in the batch
    time.sleep(0.05)  # the timer took it and is sending it
    runner._check_orphans = True  # as after a fetch whose reply was lost
    runner.run_once(block=False)
    runner.close_acks()
    assert RUNS["a"] == 1
    assert store.job_record(Q, job.id)["status"] == "done"


def test_jobs_fetched_behind_a_long_job_go_back_to_ready(store: RedisStore) -> None:
    release.clear()
    waiting = wait_for_release.delay()
    behind = [t.add.delay(i, 1) for i in range(5)]
    runner = runner_with_batches(store, window=0.05)
    runner._pace = 0.001  # as if jobs had been quick: it fetches all six at once
    thread = threading.Thread(target=runner.run_once)
    thread.start()
    try:
        # Then, the long job still running, the others wait in ready again, in order
        assert _wait_for(lambda: store.client.llen(store.keys.ready(Q)) == 5, 15)
        assert store.job_record(Q, waiting.id)["status"] == "active"
        assert [store.delivery(Q, WORKER, raw).job_id for raw in reversed(
            store.client.lrange(store.keys.ready(Q), 0, -1))] == [j.id for j in behind]
        assert store.client.llen(store.keys.active(Q, WORKER)) == 1
    finally:
        release.set()
        thread.join(20)
    runner.run()
    assert {store.job_record(Q, j.id)["status"] for j in behind} == {"done"}


@pytest.mark.single_only("acks go ahead on taskq.wire only; a Cluster's client is redis-py's")
def test_the_next_batch_is_asked_for_while_the_jobs_held_run(store: RedisStore) -> None:
    """On taskq.wire's client the acks and the next fetch go out before the jobs held run
    out (the server works meanwhile); every job still ends once, acknowledged."""
    jobs = t.add.enqueue_many([(i, 1) for i in range(300)], store=store)
    runner = runner_with_batches(store, window=1.0)
    assert runner.sends_ahead
    real = store.send_ack_and_fetch
    sent: list[int] = []

    def counting(done: Any, n: int) -> Any:
        sent.append(len(runner._buffer))  # jobs still held when the next call went out
        return real(done, n)

    waited: list[int] = []  # calls whose reply the runner waited for, jobs in hand or not
    real_wait = store.ack_and_fetch

    def waiting(done: Any, n: int) -> Any:
        waited.append(len(done))
        return real_wait(done, n)

    store.send_ack_and_fetch = counting  # type: ignore[method-assign]
    store.ack_and_fetch = waiting  # type: ignore[method-assign]
    assert runner.run() == 300
    for i, job in enumerate(jobs):
        rec = store.job_record(Q, job.id)
        assert (rec["status"], json.loads(rec["result"])) == ("done", i + 1)
    assert store.client.llen(store.keys.active(Q, WORKER)) == 0
    assert store.client.hlen(store.keys.running(Q)) == 0
    assert len(sent) >= 5 and max(sent) > 0
    # A full batch of acks waits for the next fetch to go ahead; it is not flushed on its
    # own while a call is on the way (that made the runner wait twice per batch). The
    # calls waited for are the first ones, one ack each, while the runner learns the pace.
    print(f"\n300 jobs: {len(sent)} calls sent ahead, {len(waited)} waited for {waited}")
    assert 32 not in waited, waited


@pytest.mark.single_only("acks go ahead on taskq.wire only; a Cluster's client is redis-py's")
def test_jobs_whose_fetch_is_in_flight_go_back_to_ready_behind_a_long_job(
        store: RedisStore) -> None:
    release.clear()
    first = t.add.delay(0, 1)
    waiting = wait_for_release.delay()
    behind = [t.add.delay(i, 1) for i in range(1, 3)]
    runner = runner_with_batches(store, window=0.05)
    runner.fetch_size = lambda: 2  # type: ignore[method-assign]
    thread = threading.Thread(target=lambda: [runner.run_once(), runner.run_once()])
    thread.start()
    try:
        # "first" ended and sent its ack with the fetch of the two behind; the long job
        # runs; the reply is read by the timer and those two go back to ready, in order.
        assert _wait_for(lambda: store.client.llen(store.keys.ready(Q)) == 2, 15)
        assert store.job_record(Q, waiting.id)["status"] == "active"
        assert store.job_record(Q, first.id)["status"] == "done"
        assert [store.delivery(Q, WORKER, raw).job_id for raw in reversed(
            store.client.lrange(store.keys.ready(Q), 0, -1))] == [j.id for j in behind]
    finally:
        release.set()
        thread.join(20)
    runner.run()
    assert [store.job_record(Q, j.id)["status"] for j in (first, waiting, *behind)] == ["done"] * 4
    assert store.client.llen(store.keys.active(Q, WORKER)) == 0
