"""Fixtures for the real-fault tier: `taskq worker` subprocesses in their own process groups
(always killed at the end), the tasks' record database, and a bounded wait helper."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
import redis

from taskq.config import Settings
from taskq.connection import redis_py_client
from taskq.topology import nodes
from tests.faults import tasks

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 30.0


def wait_until(condition: Callable[[], Any], what: str, timeout: float = DEADLINE,
               interval: float = 0.02) -> Any:
    """Poll `condition` until it returns something truthy (returned), or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(interval)


def gone(pid: int) -> bool:
    """Exited (a zombie has closed its sockets too)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def blocked_clients(url: str) -> list[str]:
    client = redis_py_client(url, Settings(url=url))  # every node of a Cluster
    try:
        return [c["addr"] for node in nodes(client) for c in node.client.client_list()
                if c.get("cmd") in ("blmove", "brpoplpush") and "b" in c.get("flags", "")]
    finally:
        client.close()


def record_url(url: str) -> str:
    """The tasks record into database 1 of the server under test; taskq uses database 0."""
    return url.rsplit("/", 1)[0] + "/1"


@dataclass
class WorkerProcess:
    """One `taskq worker` (supervisor and children) in its own process group."""

    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    args: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def signal(self, sig: int) -> None:
        """Signal the supervisor only (what `kill PID` or a process manager does)."""
        self.popen.send_signal(sig)

    def signal_group(self, sig: int) -> None:
        """Signal supervisor and children at once (kill -9 of the whole worker, SIGSTOP)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def wait(self, timeout: float = DEADLINE) -> int:
        return self.popen.wait(timeout)

    def log(self) -> str:
        self.log_file.flush()
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = DEADLINE, count: int = 1) -> str:
        return wait_until(lambda: self.log() if self.log().count(text) >= count else "",
                          f"{text!r} x{count} in the worker log {self.log_path}", timeout)

    def children(self) -> list[int]:
        """Pids of the worker's child processes (from /proc, no extra dependency)."""
        out = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]


@pytest.fixture
def records(server: Any, redis_client: Any) -> Iterator[redis.Redis]:
    """A client on the tasks' record database (flushed by `redis_client` with FLUSHALL)."""
    client = redis.Redis.from_url(server.records_url)
    yield client
    client.close()


@pytest.fixture
def spawn(server: Any, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `taskq worker tests.faults.tasks -q faults ...`; every one is killed at teardown."""
    started: list[WorkerProcess] = []

    def start(url: str, processes: int = 1, lease: float | None = 1.0, grace: float = 10.0,
              extra: tuple[str, ...] = (), records_url: str | None = None) -> WorkerProcess:
        """`lease` None: the default lease."""
        # The session server's own record database (a plain server beside a Cluster).
        records = records_url or (server.records_url if url == server.url else record_url(url))
        log_path = tmp_path / f"worker-{len(started)}.log"
        log_file = open(log_path, "wb")  # noqa: SIM115 - closed at teardown
        args = [sys.executable, "-m", "taskq", "worker", "tests.faults.tasks",
                "-q", tasks.QUEUE, "-c", str(processes),
                *(("--lease", str(lease)) if lease is not None else ()),
                "--grace", str(grace), "--url", url, *extra]
        env = {**os.environ, tasks.URL_ENV: records, "TASKQ_HOME": str(tmp_path),
               "PYTHONUNBUFFERED": "1"}
        env.pop("TASKQ_REDIS_URL", None)
        popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log_file,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        worker = WorkerProcess(popen, log_path, log_file, args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        children = worker.children()
        worker.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.popen.wait(10)
        worker.log_file.close()
        # A killed child's BLMOVE stays blocked on the server until its socket is closed;
        # the next test flushes and enqueues, and a BLMOVE still pending would take that job
        # into the list of a worker whose lease was flushed: wait for them to go.
        wait_until(lambda pids=children: all(gone(p) for p in pids),  # type: ignore[misc]
                   "the worker's children to exit", timeout=10)
    if started:
        wait_until(lambda: not blocked_clients(server.url), "no BLMOVE left on the server",
                   timeout=10)
