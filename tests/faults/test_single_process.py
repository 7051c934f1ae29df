"""`taskq worker --single-process`: the child runs as a thread of the supervisor's process.
What a thread cannot do (be killed) is done another way; these tests hold it to the same
promises as the forked worker: a hard timeout retries then dead-letters the job and the worker
goes on (the process replaces itself), a shutdown past grace requeues the job at the head, and
a kill -9 of the one process loses nothing (its lease expires, another worker takes over).
"""

from __future__ import annotations

import signal

import pytest
import redis

from taskq.store import RedisStore
from tests.faults import tasks
from tests.faults.helpers import (
    history,
    job_hash,
    stop_cleanly,
    wait_started,
    wait_status,
    worker_residue,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]
SINGLE = ("--single-process",)


def test_hard_timeout_replaces_the_process_retries_then_dead_letters(
        server, store: RedisStore, redis_client: redis.Redis, records, spawn) -> None:
    # Given a single-process worker and a job that overruns its 0.5 s timeout every time
    worker = spawn(server.url, extra=SINGLE)
    tasks.sleepy.enqueue(args=["t1"], job_id="t1", store=store)
    first, _ = wait_started(records, "t1")
    assert first == worker.pid  # the job runs in the worker's one process

    # Then the process replaces itself (same pid, exec) and the job is retried, then dead
    second, _ = wait_started(records, "t1")
    assert second == worker.pid
    record = wait_status(redis_client, "t1", "dead")
    assert record["reason"] == "timed out"
    assert [e["event"] for e in history(redis_client, "t1")] == [
        "enqueued", "retrying", "dead-lettered"]
    assert records.llen(tasks.starts_key("t1")) == 2
    assert worker.log().count("job-timed-out") == 2
    assert "worker-restarting" in worker.wait_log("worker-restarting", count=2)

    # and the replaced process keeps serving
    tasks.record.enqueue(args=["after"], job_id="after", store=store)
    wait_status(redis_client, "after", "done")
    assert worker.popen.poll() is None
    stop_cleanly(worker)
    assert worker_residue(redis_client) == []


def test_sigterm_past_grace_requeues_the_job_and_exits_zero(
        server, store: RedisStore, redis_client: redis.Redis, records, spawn) -> None:
    # Given a single-process worker (grace 0.5 s) in the middle of a long job
    worker = spawn(server.url, grace=0.5, extra=SINGLE)
    tasks.hold.enqueue(args=["long"], job_id="long", store=store)
    wait_started(records, "long")

    # When it gets SIGTERM and the job outlives the grace period
    worker.signal(signal.SIGTERM)

    # Then it exits 0 and the job is back in ready, not run to its end, nothing left behind
    assert worker.wait() == 0, worker.log()[-3000:]
    assert job_hash(redis_client, "long")["status"] == "queued"
    assert [e["event"] for e in history(redis_client, "long")][-1] == "requeued"
    assert records.hget(tasks.DONE, "long") is None
    assert worker_residue(redis_client) == []

    # and a new worker runs it to done
    records.rpush(tasks.release_key("long"), "go")
    again = spawn(server.url, extra=SINGLE)
    wait_status(redis_client, "long", "done")
    stop_cleanly(again)
