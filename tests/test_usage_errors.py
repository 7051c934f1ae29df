"""Errors a new user can act on: bad URLs and queue names are usage errors (exit 2) found
before anything starts; a file path names its module; an unreachable server is said plainly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taskq.store import RedisStore
from tests.servers import free_port
from tests.test_cli_worker import run_cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("url", "says"), [
    ("localhost:6379", "did you mean redis://localhost:6379/0?"),
    ("http://cache.internal:6380", "did you mean redis://cache.internal:6380/0?"),
    ("redis://host:port/0", "Port could not be cast"),
])
def test_a_malformed_url_is_a_usage_error_before_anything_starts(url: str, says: str) -> None:
    for args in (("worker", "tests.sample_tasks", "--burst"), ("stats",),
                 ("dead", "requeue", "--all")):
        done = run_cli(*args, "--url", url, url="redis://unused:1/0")
        assert done.returncode == 2, (args, done.stderr)
        assert says in done.stderr
        assert "worker-started" not in done.stderr


def test_a_malformed_url_from_the_environment_is_a_usage_error_too() -> None:
    done = run_cli("stats", url="localhost:6379")
    assert done.returncode == 2 and "did you mean redis://localhost:6379/0?" in done.stderr


def test_a_bad_queue_name_is_a_usage_error(store: RedisStore) -> None:
    url = store.settings.url or ""
    for args in (("worker", "tests.sample_tasks", "--burst"), ("stats",), ("queues",),
                 ("dead", "list")):
        done = run_cli(*args, "-q", "has space", url=url)
        assert done.returncode == 2, (args, done.stderr)
        assert "queue name 'has space'" in done.stderr


@pytest.mark.parametrize("given", ["workers/example.py", "./workers/example.py",
                                   "workers/example"])
def test_a_file_path_instead_of_a_module_suggests_the_dotted_name(given: str) -> None:
    done = run_cli("worker", given, "--burst", url="redis://127.0.0.1:1/0")
    assert done.returncode == 2
    assert "taskq worker workers.example" in done.stderr


def test_queues_takes_q_like_stats(store: RedisStore) -> None:
    from tests import sample_tasks as t

    t.add.delay(1, 2)
    t.add.enqueue(args=[1, 2], queue="other")
    done = run_cli("queues", "-q", "other", url=store.settings.url or "")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("QUEUE") and len(lines) == 2 and lines[1].startswith("other")


def test_a_worker_pointed_at_a_silent_server_says_so_and_keeps_trying() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # well-formed, nobody listens
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskq", "worker", "tests.sample_tasks", "-c", "1", "--url", url],
        cwd=ROOT, env={**os.environ, "TASKQ_REDIS_URL": url}, stderr=subprocess.PIPE,
        text=True, start_new_session=True)
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            seen.append(line)
            if "redis-unreachable" in line or not line:
                break
        said = "".join(seen)
        assert "redis-unreachable" in said
        assert f"no Redis answers at {url}" in said and "keeps retrying" in said
        assert proc.poll() is None  # still running: a server may come up later
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=60)
