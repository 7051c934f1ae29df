"""Coroutine tasks run in-process and async producers (`adelay`, `aresult`) on a real server."""

from __future__ import annotations

import asyncio
import threading

import pytest

import taskq
from taskq.store import RedisStore
from taskq.worker.aio import EventLoopThread, TaskCaller
from taskq.worker.runner import Runner
from tests import aio_tasks as a
from tests import sample_tasks as t
from tests.helpers import drain

Q = "default"


def test_a_coroutine_task_runs_in_a_runner_without_a_loop(store: RedisStore) -> None:
    job = a.aadd.delay(2, 3)
    drain(store)
    assert job.result(timeout=5) == 5


def test_a_coroutine_task_runs_on_the_childs_event_loop(store: RedisStore) -> None:
    loop = EventLoopThread().start()
    try:
        job = a.aadd.delay(4, 5)
        plain = t.add.delay(1, 1)
        store.register("test:1:w", [Q], {})
        runner = Runner(store, "test:1:w", [Q], stop=threading.Event(), burst=True,
                        caller=TaskCaller(loop, threading.Semaphore(1)))
        assert runner.run() == 2
    finally:
        loop.stop()
    assert (job.result(timeout=5), plain.result(timeout=5)) == (9, 2)


def test_a_coroutine_past_its_timeout_is_cancelled_and_ends_timed_out(
        store: RedisStore) -> None:
    job = a.anap_forever.delay()
    drain(store)
    record = store.job_record(Q, job.id)
    assert (record["status"], record["reason"], record["error_type"]) == (
        "dead", "timed out", "TimeoutError")


def test_a_timeout_error_raised_by_the_task_itself_is_a_plain_failure(
        store: RedisStore) -> None:
    job = a.araise.delay()
    drain(store)
    record = store.job_record(Q, job.id)
    assert (record["status"], record["reason"]) == ("dead", "failed")


def test_adelay_and_aresult_do_not_block_the_event_loop(store: RedisStore) -> None:
    # Given a job enqueued from async code, and no worker yet
    ticks = 0
    stop = threading.Event()
    runner = Runner(store, "test:1:w", [Q], stop=stop, block_timeout=0.1)
    store.register("test:1:w", [Q], {})
    worker = threading.Thread(target=runner.run)

    async def ticker() -> None:
        # Starts the worker only after the loop has run on while aresult() waits: a
        # blocking aresult() would never let this run, and would time out.
        nonlocal ticks
        while ticks < 5:
            await asyncio.sleep(0.01)
            ticks += 1
        worker.start()

    async def main() -> object:
        job = await a.aadd.adelay(20, 22)
        assert await job.astatus() == "queued"
        waiting = asyncio.ensure_future(job.aresult(timeout=30))
        await ticker()
        try:
            return await waiting
        finally:
            await taskq.aclose()

    try:
        assert asyncio.run(main()) == 42
    finally:
        stop.set()
        if worker.is_alive():
            worker.join(10)
    assert ticks == 5


def test_aenqueue_takes_the_sync_options_and_refuses_a_pending_duplicate(
        store: RedisStore) -> None:
    from taskq import DuplicateJobError

    async def main() -> None:
        job = await t.add.aenqueue(args=[1, 2], job_id="same", delay=60)
        assert await job.astatus() == "scheduled"
        with pytest.raises(DuplicateJobError):
            await t.add.aenqueue(args=[1, 2], job_id="same")
        await taskq.aclose()

    asyncio.run(main())
    assert store.job_record(Q, "same")["status"] == "scheduled"
