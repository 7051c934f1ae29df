"""Workers that die, hang or freeze under a job: the job still ends once, in the right place.

Each test drives real `taskq worker` subprocesses and waits on conditions in Redis (never on
fixed sleeps); timings are printed for the record, never asserted.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import redis

from taskq.store import RedisStore
from tests.faults import tasks
from tests.faults.conftest import wait_until
from tests.faults.helpers import (
    KEYS,
    Q,
    events,
    history,
    job_hash,
    job_payload,
    live_workers,
    nothing_queued,
    stop_cleanly,
    wait_started,
    wait_status,
    worker_pid,
    worker_residue,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]


def test_child_killed_mid_job_is_run_once_elsewhere(server, store: RedisStore, redis_client,
                                                    records, spawn) -> None:
    # Given a worker with two children, one of them in the middle of a job
    worker = spawn(server.url, processes=2)
    tasks.hold_first.enqueue(args=["k1"], job_id="k1", store=store)
    victim, _ = wait_started(records, "k1")

    # When that child is killed with SIGKILL
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()

    # Then the job starts again in another process and completes exactly once
    again, started_at = wait_started(records, "k1")
    print(f"\nchild kill -9 -> job running again elsewhere: {started_at - killed_at:.3f} s")
    record = wait_status(redis_client, "k1", "done")
    assert again != victim
    assert worker_pid(record["worker"]) == again
    assert records.llen(tasks.starts_key("k1")) == 2
    assert records.hget(tasks.DONE, "k1") == b"1"
    # and the crash is counted in the payload and the job's story
    assert job_payload(redis_client, "k1").crashes == 1
    crashed = [e for e in history(redis_client, "k1") if e["event"] == "crashed"]
    assert len(crashed) == 1
    assert crashed[0]["crash"]["pid"] == victim
    assert crashed[0]["crash"]["signal"] == "SIGKILL"
    assert json.loads(record["last_crash"])["pid"] == victim

    stop_cleanly(worker)
    assert worker_residue(redis_client) == []


@pytest.mark.parametrize("extra", [(), ("--single-process",)],
                         ids=["supervisor-and-child", "single-process"])
def test_whole_worker_killed_mid_job_is_recovered_by_another_via_lease(
        server, store: RedisStore, redis_client, records, spawn, extra) -> None:
    # Given worker A in the middle of a job and worker B idle (a single-process worker has
    # no supervisor to hand its job back at once: the lease is its only way back)
    a = spawn(server.url, lease=1.0, extra=extra)
    tasks.hold_first.enqueue(args=["w1"], job_id="w1", store=store)
    victim, _ = wait_started(records, "w1")
    b = spawn(server.url, lease=1.0, extra=extra)
    wait_until(lambda: live_workers(redis_client) == 2, "worker B to register")

    # When A (supervisor and children) is killed with SIGKILL, so nobody reaps its child
    a.signal_group(signal.SIGKILL)
    killed_at = time.monotonic()
    assert a.wait() == -signal.SIGKILL

    # Then B finds A's lease expired, takes the job back and runs it to done, once
    again, started_at = wait_started(records, "w1")
    print(f"\nworker kill -9 {extra} -> job running again elsewhere: "
          f"{started_at - killed_at:.3f} s (lease 1 s)")
    record = wait_status(redis_client, "w1", "done")
    assert again != victim
    assert worker_pid(record["worker"]) == again
    assert records.llen(tasks.starts_key("w1")) == 2
    assert records.hget(tasks.DONE, "w1") == b"1"
    assert job_payload(redis_client, "w1").crashes == 1
    crashed = [e for e in history(redis_client, "w1") if e["event"] == "crashed"]
    assert [c["crash"]["reason"] for c in crashed] == ["lease expired"]
    assert crashed[0]["crash"]["pid"] == victim

    stop_cleanly(b)
    assert worker_residue(redis_client) == []


def test_stale_worker_cannot_complete_a_job_taken_from_it(server, store: RedisStore,
                                                          redis_client, records, spawn) -> None:
    # Given worker A in the middle of a job and worker B idle
    a = spawn(server.url, lease=1.0)
    tasks.hold_first.enqueue(args=["s1"], job_id="s1", store=store)
    stale, _ = wait_started(records, "s1")
    b = spawn(server.url, lease=1.0)
    wait_until(lambda: live_workers(redis_client) == 2, "worker B to register")

    # When A freezes (SIGSTOP) for longer than its lease, B takes the job and finishes it
    a.signal_group(signal.SIGSTOP)
    second, _ = wait_started(records, "s1")
    record = wait_status(redis_client, "s1", "done")
    assert second != stale
    assert worker_pid(record["worker"]) == second

    # and A then wakes up and finishes its (stale) run
    records.rpush(tasks.release_key("s1"), "go")
    a.signal_group(signal.SIGCONT)

    # Then A's ack is refused, and A's child leaves because it lost its lease
    a.wait_log("fenced")
    a.wait_log("lease lost")
    # The stale run's own side effect happened (at-least-once at the edge), but the job's
    # recorded outcome is B's, the job was run twice only, and it is queued nowhere again.
    assert records.hget(tasks.DONE, "s1") == b"2"
    after = job_hash(redis_client, "s1")
    assert after["status"] == "done"
    assert worker_pid(after["worker"]) == second
    assert after["result"] == str(second)
    assert events(redis_client, "s1").count("succeeded") == 1
    assert nothing_queued(redis_client)
    assert not redis_client.hexists(KEYS.running(Q), "s1")
    assert records.llen(tasks.starts_key("s1")) == 2

    stop_cleanly(a, b)
    assert records.llen(tasks.starts_key("s1")) == 2
    assert worker_residue(redis_client) == []


def test_poison_job_is_dead_lettered_after_three_crashes(server, store: RedisStore,
                                                         redis_client, records, spawn) -> None:
    # Given a job that kills the process running it, every time
    worker = spawn(server.url)
    tasks.suicide.enqueue(args=["p1"], job_id="p1", store=store)

    # Then after three crashes it is dead, as poison, with the last crash's host, pid, signal
    record = wait_status(redis_client, "p1", "dead")
    assert record["reason"] == "poison"
    pids = [int(p) for p in records.lrange(tasks.starts_key("p1"), 0, -1)]
    assert len(pids) == 3
    last = json.loads(record["last_crash"])
    assert last["pid"] == pids[-1]
    assert last["signal"] == "SIGKILL"
    assert last["host"]
    assert job_payload(redis_client, "p1").crashes == 3
    assert redis_client.zscore(KEYS.dead(Q), "p1") is not None
    assert events(redis_client, "p1") == ["enqueued", "crashed", "crashed", "dead-lettered"]

    # and the worker keeps serving other jobs
    tasks.record.enqueue(args=["after"], job_id="after", store=store)
    wait_status(redis_client, "after", "done")
    assert records.llen(tasks.starts_key("p1")) == 3

    stop_cleanly(worker)
    assert worker_residue(redis_client) == []


def test_hard_timeout_kills_the_child_retries_then_dead_letters(
        server, store: RedisStore, redis_client: redis.Redis, records, spawn) -> None:
    # Given a job with timeout 0.5 s and one retry that sleeps 30 s on every attempt
    worker = spawn(server.url)
    tasks.sleepy.enqueue(args=["t1"], job_id="t1", store=store)
    first, _ = wait_started(records, "t1")

    # Then the child running it is killed and replaced, the job retried as timed out
    second, _ = wait_started(records, "t1")
    assert second != first
    record = wait_status(redis_client, "t1", "dead")
    assert record["reason"] == "timed out"
    assert record["error_type"] == "TimeoutError"
    story = history(redis_client, "t1")
    assert [e["event"] for e in story] == ["enqueued", "retrying", "dead-lettered"]
    assert story[1]["reason"] == "timed out"
    assert records.llen(tasks.starts_key("t1")) == 2
    assert records.hget(tasks.DONE, "t1") is None
    assert worker.log().count("job-timed-out") == 2
    # and the log says where each attempt went: retried, then dead letters (no retries left)
    assert "reason='timed out'" in worker.wait_log("job-retrying")
    dead_line = next(line for line in worker.wait_log("job-dead-lettered").splitlines()
                     if "job-dead-lettered" in line)
    assert "timed out" in dead_line and "no retries left" in dead_line

    # and the replaced child keeps serving
    tasks.record.enqueue(args=["after"], job_id="after", store=store)
    wait_status(redis_client, "after", "done")

    stop_cleanly(worker)
    assert worker_residue(redis_client) == []


def test_children_of_a_killed_supervisor_finish_their_job_and_exit(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given a worker whose only child is in the middle of a job
    worker = spawn(server.url, lease=0.6)
    tasks.hold.enqueue(args=["orphan"], job_id="orphan", store=store)
    child, _ = wait_started(records, "orphan")

    # When the supervisor alone is killed with SIGKILL (the child survives it)
    worker.signal(signal.SIGKILL)
    worker.wait()

    # Then the child notices, finishes its job, hands nothing back stranded, and exits
    worker.wait_log("supervisor-gone")
    records.rpush(tasks.release_key("orphan"), "go")
    wait_status(redis_client, "orphan", "done")
    wait_until(lambda: process_gone(child), "the child to exit")
    assert records.hget(tasks.DONE, "orphan") == b"1"
    assert worker_residue(redis_client) == []


def process_gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True
