"""Fixtures for the time-and-control tests: `taskq worker` subprocesses (killed at the end)
and the tasks' record database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from taskq.config import Settings
from taskq.connection import redis_py_client
from tests.control import tasks
from tests.faults.conftest import ROOT, WorkerProcess, blocked_clients, gone, wait_until
from tests.servers import ServerProcess


@pytest.fixture
def records(server: ServerProcess, redis_client: redis.Redis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(server.records_url)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _records_env(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    # The in-process side (hooks registered by tests.control.tasks) records here too.
    monkeypatch.setenv(tasks.URL_ENV, server.records_url)


def dump_state(url: str) -> None:
    """Print every key and value (for the log of a failed test)."""
    state = redis_py_client(url, Settings(url=url))
    readers = {"list": lambda k: state.lrange(k, 0, -1), "hash": state.hgetall,
               "zset": lambda k: state.zrange(k, 0, -1, withscores=True),
               "string": state.get, "set": state.smembers}
    for key in sorted(state.scan_iter("*")):
        kind = state.type(key).decode()
        print(key, kind, str(readers.get(kind, str)(key))[:300])
    print("server time", state.time(), "local", time.time())
    state.close()


@pytest.fixture
def spawn(tmp_path: Path, server: ServerProcess) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `taskq worker MODULE -q QUEUE ...`; every one is killed at teardown."""
    started: list[WorkerProcess] = []

    def start(module: str = "tests.control.tasks", queue: str = tasks.QUEUE,
              processes: int = 1, lease: float = 2.0, extra: tuple[str, ...] = ()
              ) -> WorkerProcess:
        log_path = tmp_path / f"worker-{len(started)}.log"
        log_file = open(log_path, "wb")  # noqa: SIM115 - closed at teardown
        args = [sys.executable, "-m", "taskq", "worker", module, "-q", queue,
                "-c", str(processes), "--lease", str(lease), "--grace", "5",
                "--url", server.url, *extra]
        env = {**os.environ, tasks.URL_ENV: server.records_url,
               "TASKQ_HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
        env.pop("TASKQ_REDIS_URL", None)
        popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log_file,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        worker = WorkerProcess(popen, log_path, log_file, args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if "job-" not in worker.log() and worker.popen.poll() is None:
            worker.signal(signal.SIGUSR1)  # a worker that ran nothing: dump its stacks
            time.sleep(1.0)
            dump_state(server.url)
        children = worker.children()
        worker.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.popen.wait(10)
        # A child's BLMOVE stays blocked on the server until the child's socket closes; the
        # next test flushes the server and enqueues, and a BLMOVE still pending would move
        # that job into the list of a worker whose lease was flushed: wait for them to go.
        try:
            wait_until(lambda pids=children: all(gone(p) for p in pids),  # type: ignore[misc]
                       "the worker's children to exit", timeout=10)
        finally:
            # Shown by pytest only when the test failed.
            print(f"--- {worker.log_path} (tail)\n"
                  + "\n".join(worker.log().splitlines()[-40:]))
            worker.log_file.close()
    if started:
        wait_until(lambda: not blocked_clients(server.url), "no BLMOVE left on the server",
                   timeout=10)
