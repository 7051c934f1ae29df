"""Batched acknowledgements under kill -9 (issue 15): a worker that acknowledges jobs ending
back to back together may run again, after a kill -9, only jobs that ended within the
acknowledgement window: at most one batch (32 jobs) per kill, plus the job it was running.
With `--ack-window 0` nothing that ended runs again. Counted from the tasks' own records."""

from __future__ import annotations

import os
import signal

import pytest

from taskq.store import RedisStore
from taskq.worker.acks import DEFAULT_MAX_JOBS
from tests.faults import tasks
from tests.faults.conftest import wait_until
from tests.faults.helpers import job_payload, stop_cleanly, wait_status, worker_residue
from tests.faults.test_load import all_done, enqueue_tags, runs_by_job

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]


def kill_child_mid_flood(server, store, redis_client, records, spawn, extra: tuple[str, ...]
                         ) -> list[str]:
    """3,000 quick jobs, one worker child killed -9 three times while it drains them; the
    jobs that ran more than once."""
    tags = [f"b{i:04d}" for i in range(3000)]
    enqueue_tags(store, tags)
    worker = spawn(server.url, processes=1, lease=None, extra=extra)
    try:
        for done_before_kill in (500, 1200, 1900):
            wait_until(lambda n=done_before_kill: records.hlen(tasks.DONE) >= n,
                       f"{done_before_kill} jobs to run", timeout=90, interval=0.005)
            child = wait_until(worker.children, "the worker's child")
            os.kill(child[0], signal.SIGKILL)
            wait_until(lambda c=child[0]: c not in worker.children(), "the child to go")
        wait_until(lambda: all_done(redis_client, records, tags), "every job done",
                   timeout=90, interval=0.2)
    except AssertionError as exc:  # say where the worker was
        raise AssertionError(f"{exc}; {records.hlen(tasks.DONE)} jobs ran; worker log:\n"
                             f"{worker.log()[-4000:]}") from None
    runs = runs_by_job(records)
    assert set(runs) == set(tags)
    stop_cleanly(worker)
    assert worker_residue(redis_client) == []
    return sorted(tag for tag, n in runs.items() if n > 1)


def test_a_kill_runs_again_at_most_one_batch_of_ended_jobs(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    twice = kill_child_mid_flood(server, store, redis_client, records, spawn, ())
    print(f"\n3 kills -9 with batched acks: {len(twice)} jobs ran twice {twice[:10]}")
    # Per kill: the job it interrupted, and at most one batch that ended but was not sent.
    assert len(twice) <= 3 * (DEFAULT_MAX_JOBS + 1)


def test_without_batching_a_kill_runs_again_only_the_job_it_interrupted(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    twice = kill_child_mid_flood(server, store, redis_client, records, spawn,
                                 ("--ack-window", "0"))
    print(f"\n3 kills -9, --ack-window 0: {len(twice)} jobs ran twice {twice}")
    assert len(twice) <= 3


def test_a_poison_job_fetched_with_others_counts_its_crashes_alone(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given quick jobs around a job that kills its process every time: once the worker has
    # seen quick jobs it fetches them 32 at a time, so the poison job shares its fetches
    tags = [f"q{i:03d}" for i in range(300)]
    enqueue_tags(store, tags[:100])
    tasks.suicide.enqueue(args=["p1"], job_id="p1", store=store)
    enqueue_tags(store, tags[100:])
    worker = spawn(server.url, processes=1, lease=None)

    # Then the poison job is dead after its own three crashes, and every job fetched with it
    # went back uncounted and ran to done
    record = wait_status(redis_client, "p1", "dead")
    assert record["reason"] == "poison"
    wait_until(lambda: all_done(redis_client, records, tags), "the quick jobs done", 60)
    crashed = [t for t in tags if job_payload(redis_client, t).crashes]
    assert crashed == []
    stop_cleanly(worker)
    assert worker_residue(redis_client) == []
