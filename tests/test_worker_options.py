"""Worker options that do what they say: --max-jobs per child, --burst and --wait-scheduled."""

from __future__ import annotations

from collections import Counter

from taskq.store import RedisStore
from tests import sample_tasks as t
from tests.test_cli_worker import run_cli


def jobs_per_worker(stderr: str) -> Counter[str]:
    return Counter(line.split("worker=")[1].split()[0] for line in stderr.splitlines()
                   if "job-succeeded" in line)


def test_max_jobs_counts_per_child_across_its_threads(store: RedisStore) -> None:
    jobs = t.add.enqueue_many([(i, 0) for i in range(8)])
    done = run_cli("worker", "tests.sample_tasks", "-c", "1", "--threads", "4",
                   "--max-jobs", "2", "--burst", url=store.settings.url or "")
    assert done.returncode == 0, done.stderr
    assert [j.result(timeout=1) for j in jobs] == list(range(8))
    per_child = jobs_per_worker(done.stderr)
    assert max(per_child.values()) <= 2, per_child  # not 2 per thread (8 per child)
    assert len(per_child) >= 4


def test_burst_runs_what_is_ready_and_leaves_scheduled_jobs(store: RedisStore) -> None:
    later = t.add.enqueue(args=[1, 1], delay=30)  # not due while the worker runs, however slow
    failing = t.boom.delay("x")  # retries=2, a fast backoff
    done = run_cli("worker", "tests.sample_tasks", "-c", "1", "--burst",
                   url=store.settings.url or "")
    assert done.returncode == 0, done.stderr
    assert later.status() in ("scheduled", "queued")
    assert failing.status() in ("scheduled", "queued")  # its retry is not waited for


def test_burst_wait_scheduled_also_runs_delays_and_retries_due_soon(store: RedisStore) -> None:
    later = t.add.enqueue(args=[1, 1], delay=1)
    failing = t.boom.delay("x")
    far = t.add.enqueue(args=[2, 2], delay=3600)  # not due soon: left scheduled
    done = run_cli("worker", "tests.sample_tasks", "-c", "1", "--burst", "--wait-scheduled",
                   "30", url=store.settings.url or "")
    assert done.returncode == 0, done.stderr
    assert later.result(timeout=1) == 2
    assert failing.status() == "dead"
    assert store.job_record("default", failing.id)["attempts"] == "3"
    assert far.status() == "scheduled"


def test_wait_scheduled_without_burst_is_a_usage_error(store: RedisStore) -> None:
    done = run_cli("worker", "tests.sample_tasks", "--wait-scheduled", "5",
                   url=store.settings.url or "")
    assert done.returncode == 2 and "goes with --burst" in done.stderr


def test_result_ttl_is_the_workers_to_set(store: RedisStore) -> None:
    job = t.add.delay(1, 1)
    done = run_cli("worker", "tests.sample_tasks", "-c", "1", "--burst", "--result-ttl", "120",
                   url=store.settings.url or "")
    assert done.returncode == 0, done.stderr
    assert job.result(timeout=1) == 2
    assert 0 < store.client.ttl(store.keys.job("default", job.id)) <= 120


def test_result_ttl_from_the_environment() -> None:
    from taskq.config import Settings

    assert Settings.from_env({"TASKQ_RESULT_TTL": "3600"}).result_ttl == 3600
    assert Settings.from_env({}).result_ttl == 24 * 3600
