"""Smaller truths and orphans (issue 8, points 5 and 7), with real worker processes."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from taskq import Settings
from taskq.store import RedisStore
from tests.faults import tasks
from tests.faults.conftest import record_url, wait_until
from tests.faults.helpers import KEYS, Q, stop_cleanly, wait_started, wait_status
from tests.servers import ServerProcess

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of this test's own, which it may kill."""
    proc = ServerProcess(tmp_path / "private").start()
    yield proc
    proc.stop(kill=True)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_children_of_a_killed_supervisor_exit_even_with_redis_unreachable(
        private_server: ServerProcess, spawn) -> None:
    # Given a worker (grace 2 s) whose child is in the middle of a job
    url = private_server.url
    store = RedisStore(redis.Redis.from_url(url), Settings(url=url))
    records = redis.Redis.from_url(record_url(url))
    worker = spawn(url, grace=2.0)
    tasks.hold.enqueue(args=["gone"], job_id="gone", store=store)
    child, _ = wait_started(records, "gone")

    # When Redis becomes unreachable and the supervisor is killed with -9
    private_server.stop(kill=True)
    worker.signal(signal.SIGKILL)
    worker.wait()
    orphaned_at = time.monotonic()

    # Then the child exits on its own within a bounded time (it ignores SIGTERM: nothing
    # else would ever stop it)
    wait_until(lambda: not alive(child), "the orphaned child to exit", timeout=60)
    print(f"\norphaned child exited after {time.monotonic() - orphaned_at:.1f} s")
    assert "supervisor-gone" in worker.log()


def test_a_poison_death_in_recovery_is_counted_and_stamped(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    worker = spawn(server.url)
    tasks.suicide.enqueue(args=["p7"], job_id="p7", store=store)
    record = wait_status(redis_client, "p7", "dead")
    assert record["reason"] == "poison"
    assert int(record["died_at"]) > 0
    minute = int(time.time() // 60)
    failed = sum(int(redis_client.get(KEYS.counter(Q, "failed", m)) or 0)
                 for m in (minute, minute - 1))
    assert failed == 1
    stop_cleanly(worker)


def test_a_delayed_job_reads_active_while_it_runs_and_log_level_takes_any_case(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    worker = spawn(server.url, extra=("--log-level", "WARNING"))
    job = tasks.hold.enqueue(args=["later"], job_id="later", delay=0.2, store=store)
    wait_started(records, "later")
    assert job.status() == "active"
    records.rpush(tasks.release_key("later"), "go")
    wait_status(redis_client, "later", "done")
    assert "job-started" not in worker.log()  # info lines are filtered at WARNING
    stop_cleanly(worker)
