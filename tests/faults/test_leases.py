"""Leases under pauses, starved heartbeats and BLMOVEs that land late (issue 8, points 1-3):
a worker that lost its lease never starts a job, no job is stranded in a list that recovery
does not read, and a live but busy child keeps its lease.

Timings are printed for the record, never asserted.
"""

from __future__ import annotations

import signal
import time

import pytest
import redis

from taskq.store import RedisStore
from tests.faults import tasks
from tests.faults.conftest import WorkerProcess, wait_until
from tests.faults.helpers import (
    KEYS,
    Q,
    job_payload,
    live_workers,
    stop_cleanly,
    wait_started,
    wait_status,
    worker_pid,
    worker_residue,
)
from tests.faults.test_load import all_done, enqueue_tags, runs_by_job

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]


def worker_ids_of(client: redis.Redis, worker: WorkerProcess, count: int = 1) -> list[str]:
    """The worker ids (host:pid:token) of a worker's children once `count` of them are in
    the registry *and* hold a lease; else []. On a Cluster the registry and the leases live
    on different nodes, so a child may be listed before its lease is written."""
    pids = set(worker.children())
    ids = [m.decode() for m in client.zrange(KEYS.workers(), 0, -1)
           if worker_pid(m.decode()) in pids]
    leased = [i for i in ids if client.zscore(KEYS.leases(Q), i) is not None]
    return leased if len(leased) >= count else []


def leases_gone(client: redis.Redis, ids: list[str]) -> bool:
    return all(client.zscore(KEYS.leases(Q), i) is None for i in ids)


def test_a_worker_woken_after_losing_its_lease_starts_no_job(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given two idle workers, A frozen (SIGSTOP) until B presumed it dead and dropped its lease
    a = spawn(server.url, lease=1.0)
    b = spawn(server.url, lease=1.0)
    wait_until(lambda: live_workers(redis_client) == 2, "both workers to register")
    a_ids = wait_until(lambda: worker_ids_of(redis_client, a), "A's child to take its lease")
    a.signal_group(signal.SIGSTOP)
    wait_until(lambda: leases_gone(redis_client, a_ids), "B to drop A's lease")

    # When jobs flow and A wakes up (its blocked fetch now finds jobs at once)
    tags = [f"wake-{i}" for i in range(40)]
    enqueue_tags(store, tags, seconds=0.02)
    a.signal_group(signal.SIGCONT)

    # Then every job runs exactly once: A's old child starts nothing it fetched
    wait_until(lambda: all_done(redis_client, records, tags), "every job to be done", 60)
    runs = runs_by_job(records)
    assert {t: runs[t] for t in tags if runs[t] != 1} == {}
    assert all(records.llen(tasks.starts_key(t)) == 0 for t in tags)  # record() never marks
    a.wait_log("lease")  # A's child said it lost its lease and was replaced
    stop_cleanly(a, b)
    assert worker_residue(redis_client) == []


def test_a_job_landing_in_a_frozen_workers_list_after_its_lease_went_runs_elsewhere(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given worker B busy with a job, and worker A (four children, all blocked waiting for
    # jobs) frozen until B presumed it dead and dropped its leases
    b = spawn(server.url, lease=0.3)
    tasks.hold.enqueue(args=["busy"], job_id="busy", store=store)
    wait_started(records, "busy")
    a = spawn(server.url, processes=4, lease=0.3)
    wait_until(lambda: live_workers(redis_client) == 5, "all five children to register")
    a_ids = wait_until(lambda: worker_ids_of(redis_client, a, 4), "A's children's leases")
    assert len(a_ids) == 4
    a.signal_group(signal.SIGSTOP)
    wait_until(lambda: leases_gone(redis_client, a_ids), "B to drop A's leases")

    # When a job is enqueued (a BLMOVE of A's still waiting on the server would take it),
    # and A is killed with -9 once the job left ready or a second went by
    tasks.record.enqueue(args=["late"], job_id="late", store=store)
    deadline = time.monotonic() + 1.0
    wait_until(lambda: redis_client.llen(KEYS.ready(Q)) == 0 or time.monotonic() > deadline,
               "the job to leave ready, or a second")
    a.signal_group(signal.SIGKILL)
    a.wait()
    records.rpush(tasks.release_key("busy"), "go")

    # Then the job runs exactly once, elsewhere
    wait_status(redis_client, "late", "done", timeout=30)
    assert records.hget(tasks.DONE, "late") == b"1"
    stop_cleanly(b)
    assert worker_residue(redis_client) == []


def test_a_task_holding_the_gil_past_the_lease_keeps_its_job(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given a worker with a 1 s lease and another one idle beside it
    a = spawn(server.url, lease=1.0)
    b = spawn(server.url, lease=1.0)
    wait_until(lambda: live_workers(redis_client) == 2, "both workers to register")

    # When a task holds the GIL for 3 s (the child's heartbeat thread cannot run)
    tasks.gil_hog.enqueue(args=["gil"], job_id="gil", store=store)
    wait_started(records, "gil")

    # Then its supervisor vouches for the live child: the job runs once, no crash counted
    record = wait_status(redis_client, "gil", "done", timeout=30)
    assert records.llen(tasks.starts_key("gil")) == 1
    assert records.hget(tasks.DONE, "gil") == b"1"
    assert job_payload(redis_client, "gil").crashes == 0
    assert "crash" not in record.get("last_crash", "")
    stop_cleanly(a, b)
    assert worker_residue(redis_client) == []


def test_a_whole_worker_killed_at_default_settings_has_its_job_run_elsewhere(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given two workers at the default lease, A in the middle of a job
    a = spawn(server.url, lease=None)
    tasks.hold_first.enqueue(args=["dflt"], job_id="dflt", store=store)
    victim, _ = wait_started(records, "dflt")
    b = spawn(server.url, lease=None)
    wait_until(lambda: live_workers(redis_client) == 2, "worker B to register")

    # When A (supervisor and child) is killed with -9
    a.signal_group(signal.SIGKILL)
    killed_at = time.monotonic()

    # Then the job runs again in B, once (the time it took is printed: the issue asks for
    # under 10 s at defaults)
    # (polled: the records client's socket timeout is shorter than a default lease)
    again = int(wait_until(lambda: records.lpop(tasks.started_key("dflt")), "a second start"))
    started_at = time.monotonic()
    print(f"\nworker kill -9 at default lease -> job running elsewhere: "
          f"{started_at - killed_at:.2f} s")
    wait_status(redis_client, "dflt", "done")
    assert again != victim
    assert records.hget(tasks.DONE, "dflt") == b"1"
    stop_cleanly(b)
    assert worker_residue(redis_client) == []
