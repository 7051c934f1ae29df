"""Smaller truths and orphans (issue 8, points 5 and 7), with real worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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


def test_dead_letters_are_kept_within_the_cap_oldest_first_keys_and_all(
        server, store: RedisStore, redis_client, records, spawn, monkeypatch) -> None:
    # Given three dead jobs older than the age cap (imported as they would be after 200
    # days), and a worker whose retention keeps at most 5 dead jobs per queue
    old_ms = int((time.time() - 200 * 86400) * 1000)
    for i in range(3):
        assert store.import_dead(Q, f"ancient-{i}", old_ms + i, ['{"event":"x"}'],
                                 {"payload": b"{}", "reason": "failed"}) is None
    monkeypatch.setenv("TASKQ_DEAD_MAX", "5")
    worker = spawn(server.url)

    # When twelve jobs die, one after another
    for i in range(12):
        job_id = f"die-{i:02d}"
        tasks.fail.enqueue(args=[job_id], job_id=job_id, store=store)
        wait_status(redis_client, job_id, "dead")

    # Then the next retention pass keeps the newest five, and the others are gone with all
    # their keys
    wait_until(lambda: redis_client.zcard(KEYS.dead(Q)) == 5, "retention to trim", 30)
    kept = [m.decode() for m in redis_client.zrange(KEYS.dead(Q), 0, -1)]
    assert kept == [f"die-{i:02d}" for i in range(7, 12)]
    for gone in [*(f"ancient-{i}" for i in range(3)), *(f"die-{i:02d}" for i in range(7))]:
        assert not redis_client.exists(KEYS.job(Q, gone), KEYS.history(Q, gone),
                                       KEYS.notify(Q, gone)), gone
    assert "dead-letters-trimmed" in worker.log()
    # and stats and doctor say how close the queue is to the cap
    env = {**os.environ, "TASKQ_DEAD_MAX": "5"}
    for args, expect in ((("stats",), "100% of 5"), (("doctor",), "dead letters")):
        done = subprocess.run([sys.executable, "-m", "taskq", *args, "--url", server.url],
                              capture_output=True, text=True, env=env, timeout=60)
        assert expect in done.stdout, done.stdout + done.stderr
    stop_cleanly(worker)
