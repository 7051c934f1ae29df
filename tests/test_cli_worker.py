"""`taskq worker` as a user runs it: a real process against our test server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from taskq.store import RedisStore
from tests import sample_tasks as t

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, url: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TASKQ_REDIS_URL": url}
    return subprocess.run([sys.executable, "-m", "taskq", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_burst_worker_drains_the_queue_and_exits_zero(store: RedisStore) -> None:
    jobs = t.add.enqueue_many([(i, 1) for i in range(50)])
    done = run_cli("worker", "tests.sample_tasks", "-c", "2", "--burst",
                   url=store.settings.url or "")
    assert done.returncode == 0, done.stderr
    assert [j.result(timeout=1) for j in jobs] == [i + 1 for i in range(50)]
    assert "worker-started" in done.stderr and "job-succeeded" in done.stderr
    assert store.client.zcard(store.keys.leases("default")) == 0  # unregistered on exit


def test_json_logs_carry_job_context(store: RedisStore) -> None:
    import json

    job = t.add.delay(1, 1)
    done = run_cli("worker", "tests.sample_tasks", "-c", "1", "--burst", "--log-format",
                   "json", url=store.settings.url or "")
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    succeeded = next(e for e in events if e["event"] == "job-succeeded")
    assert succeeded["job_id"] == job.id
    assert {"task", "queue", "attempt", "duration", "worker"} <= set(succeeded)


def test_worker_serves_several_queues(store: RedisStore) -> None:
    mail = t.email.delay("x@example.com")
    other = t.add.enqueue(args=[1, 1], queue="other")
    done = run_cli("worker", "tests.sample_tasks", "-q", "emails", "-q", "other", "-c", "1",
                   "--burst", url=store.settings.url or "")
    assert done.returncode == 0, done.stderr
    assert mail.result(timeout=1) == "sent to x@example.com"
    assert other.result(timeout=1) == 2


def test_misuse_gives_a_clear_message_and_exit_code(store: RedisStore) -> None:
    bad_module = run_cli("worker", "no.such.module", "--burst", url=store.settings.url or "")
    assert bad_module.returncode == 2
    assert "cannot import 'no.such.module'" in bad_module.stderr
    no_modules = run_cli("worker", "--burst", url=store.settings.url or "")
    assert no_modules.returncode == 2
    assert "name the modules that define your tasks" in no_modules.stderr
    bad_url = run_cli("worker", "tests.sample_tasks", "--burst", url="http://nope")
    assert bad_url.returncode == 2
    assert "must start with redis://" in bad_url.stderr
    bad_queue = run_cli("worker", "tests.sample_tasks", "-q", "has space", "--burst",
                        url=store.settings.url or "")
    assert bad_queue.returncode == 2 and "queue name" in bad_queue.stderr


def test_threads_run_jobs_of_one_child_concurrently(store: RedisStore) -> None:
    jobs = t.overlap.enqueue_many([("t",)] * 8)
    done = run_cli("worker", "tests.sample_tasks", "-c", "1", "--threads", "4", "--burst",
                   url=store.settings.url or "")
    assert done.returncode == 0, done.stderr
    assert all(j.status() == "done" for j in jobs)
    assert int(store.client.get("test:t:peak") or 0) >= 2


def test_the_main_job_runs_end_to_end(store: RedisStore) -> None:
    done = run_cli("demo", url=store.settings.url or "", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "add(2, 3) -> 5" in done.stdout
    assert "dead letter after 2 attempts" in done.stdout
    assert "exit code 0" in done.stdout


def test_max_jobs_replaces_children_and_a_burst_still_drains(store: RedisStore) -> None:
    jobs = t.add.enqueue_many([(i, 0) for i in range(6)])
    done = run_cli("worker", "tests.sample_tasks", "-c", "1", "--max-jobs", "2", "--burst",
                   url=store.settings.url or "")
    assert done.returncode == 0, done.stderr
    assert [j.result(timeout=1) for j in jobs] == list(range(6))
    workers = {line.split("worker=")[1].split()[0] for line in done.stderr.splitlines()
               if "job-succeeded" in line}
    assert len(workers) == 3  # three children, two jobs each


def test_console_logs_carry_no_colour_codes_off_a_terminal(store: RedisStore) -> None:
    t.add.delay(1, 1)
    done = run_cli("worker", "tests.sample_tasks", "-c", "1", "--burst",
                   url=store.settings.url or "")
    assert "job-succeeded" in done.stderr
    assert "\x1b[" not in done.stderr


def test_idle_exit_runs_the_work_then_exits_zero_when_idle(store: RedisStore) -> None:
    # Given jobs waiting, when a worker with --idle-exit starts, it runs them all and then,
    # with nothing more to do, stops by itself with exit 0 (a platform scales it to zero).
    jobs = t.add.enqueue_many([(i, 1) for i in range(20)])
    done = run_cli("worker", "tests.sample_tasks", "-c", "2", "--idle-exit", "0.5",
                   url=store.settings.url or "")
    assert done.returncode == 0, done.stderr
    assert [j.result(timeout=1) for j in jobs] == [i + 1 for i in range(20)]
    assert "worker-idle-exit" in done.stderr
    assert store.client.zcard(store.keys.leases("default")) == 0


def test_single_process_worker_drains_in_one_process(store: RedisStore) -> None:
    jobs = t.add.enqueue_many([(i, 1) for i in range(20)])
    done = run_cli("worker", "tests.sample_tasks", "--single-process", "--burst",
                   url=store.settings.url or "")
    assert done.returncode == 0, done.stderr
    assert [j.result(timeout=1) for j in jobs] == [i + 1 for i in range(20)]
    assert store.client.zcard(store.keys.leases("default")) == 0  # unregistered on exit
    workers = {line.split("worker=")[1].split()[0] for line in done.stderr.splitlines()
               if "job-succeeded" in line}
    pids = {w.split(":")[1] for w in workers}
    supervisor = next(line.split("supervisor=")[1].split()[0]
                      for line in done.stderr.splitlines() if "worker-started" in line)
    assert pids == {supervisor}  # the jobs ran in the supervisor's own process


def test_single_process_refuses_several_children(store: RedisStore) -> None:
    done = run_cli("worker", "tests.sample_tasks", "--single-process", "-c", "2", "--burst",
                   url=store.settings.url or "")
    assert done.returncode == 2
    assert "--single-process runs one child" in done.stderr
