"""Coroutine tasks in real `taskq worker` processes: concurrency on one event loop, timeouts
that cancel, a blocking coroutine that cannot cost the lease, and one that is killed."""

from __future__ import annotations

import pytest

from taskq.store import RedisStore
from tests import aio_tasks as a
from tests.faults.conftest import wait_until
from tests.faults.helpers import job_hash, job_payload, stop_cleanly, wait_status

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]
AIO = ("tests.aio_tasks",)


def test_one_child_runs_async_concurrency_coroutines_at_once_and_never_more(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given one child process with --async-concurrency 10 and 30 coroutine jobs that each
    # wait until 10 of them run together
    jobs = [a.together.enqueue(args=["c", 10], store=store) for _ in range(30)]
    worker = spawn(server.url, processes=1, extra=(*AIO, "--async-concurrency", "10"))

    # Then all of them finish, in one process, and at no moment did more than 10 run
    wait_until(lambda: records.hget("aio:done", "c") == b"30", "30 coroutine jobs done")
    assert int(records.get("aio:c:peak") or 0) == 10
    pids = {wait_status(redis_client, j.id, "done")["result"] for j in jobs}
    assert len(pids) == 1
    stop_cleanly(worker)


def test_a_coroutine_past_its_timeout_is_cancelled_without_killing_the_child(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    worker = spawn(server.url, processes=1, extra=AIO)
    job = a.overrun.enqueue(args=["t"], store=store)
    record = wait_status(redis_client, job.id, "dead")
    assert (record["reason"], record["error_type"]) == ("timed out", "TimeoutError")
    wait_until(lambda: records.llen("aio:t:cancelled"), "the coroutine to see its cancel")
    # The same child goes on serving: it was not killed for the timeout.
    assert records.lrange("aio:t:cancelled", 0, -1) == records.lrange("aio:t:started", 0, -1)
    after = a.together.enqueue(args=["after", 1], store=store)
    assert wait_status(redis_client, after.id, "done")["result"] == \
        records.lindex("aio:t:started", 0).decode()
    assert "job-timed-out" not in worker.log()
    stop_cleanly(worker)


def test_a_coroutine_blocking_the_loop_past_the_lease_keeps_its_lease(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given a lease of 1 s and a coroutine that blocks its event loop for 3 s
    worker = spawn(server.url, processes=1, lease=1.0, extra=AIO)
    job = a.blocking.enqueue(args=["b", 3.0], store=store)

    # Then it completes once, never recovered as a crash: the heartbeat is its own thread
    wait_status(redis_client, job.id, "done")
    assert records.hget("aio:done", "b") == b"1"
    assert job_payload(redis_client, job.id).crashes == 0
    assert "lease-lost" not in worker.log() and "fenced" not in worker.log()
    stop_cleanly(worker)


def test_a_coroutine_that_cannot_be_cancelled_gets_its_child_killed(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given a coroutine that blocks its loop past its timeout (cancelling cannot reach it)
    worker = spawn(server.url, processes=1, extra=AIO)
    job = a.stuck.enqueue(args=["s"], store=store)

    # Then the supervisor kills the child at the hard deadline and the job ends timed out
    record = wait_status(redis_client, job.id, "dead")
    assert record["reason"] == "timed out"
    assert "job-timed-out" in worker.log()
    # and a new child serves the queue
    after = a.together.enqueue(args=["after", 1], store=store)
    done = wait_status(redis_client, after.id, "done")
    assert done["result"] != records.lindex("aio:s:started", 0).decode()
    assert job_hash(redis_client, job.id)["status"] == "dead"
    stop_cleanly(worker)
