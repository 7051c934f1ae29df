"""Many jobs through several worker processes, and a Redis server restarted under them: every
job runs to done exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from taskq.config import Settings
from taskq.store import RedisStore
from tests.faults import tasks
from tests.faults.conftest import record_url, wait_until
from tests.faults.helpers import KEYS, Q, nothing_queued, stop_cleanly, worker_residue
from tests.servers import ServerProcess

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]


def enqueue_tags(store: RedisStore, tags: list[str], seconds: float = 0.0) -> None:
    """Enqueue `record(tag)` jobs whose job id is the tag, in batches of 500."""
    for i in range(0, len(tags), 500):
        payloads = [tasks.record.build([tag, seconds], None, job_id=tag)
                    for tag in tags[i:i + 500]]
        assert store.enqueue(payloads) == [1] * len(payloads)


def statuses(client: redis.Redis, tags: list[str]) -> list[str]:
    pipe = client.pipeline(transaction=False)
    for tag in tags:
        pipe.hget(KEYS.job(Q, tag), "status")
    return [(s or b"").decode() for s in pipe.execute()]


def all_done(client: redis.Redis, records: redis.Redis, tags: list[str]) -> bool:
    return (records.hlen(tasks.DONE) >= len(tags)
            and set(statuses(client, tags)) == {"done"})


def runs_by_job(records: redis.Redis) -> dict[str, int]:
    runs: dict[bytes, bytes] = records.hgetall(tasks.DONE)  # type: ignore[assignment]
    return {k.decode(): int(v) for k, v in runs.items()}


def test_two_thousand_jobs_over_four_processes_each_run_once(server, store: RedisStore,
                                                             redis_client, records,
                                                             spawn) -> None:
    # Given 2,000 jobs and two workers of two processes each (lease long enough that a busy
    # two-core machine never starves a heartbeat into a false "dead worker")
    tags = [f"j{i:04d}" for i in range(2000)]
    enqueue_tags(store, tags)
    started = time.monotonic()
    workers = [spawn(server.url, processes=2, lease=5.0) for _ in range(2)]

    # When they have drained the queue
    wait_until(lambda: all_done(redis_client, records, tags), "2,000 jobs done", timeout=90,
               interval=0.2)
    elapsed = time.monotonic() - started

    # Then every job ran exactly once
    runs = runs_by_job(records)
    twice = sorted(tag for tag, n in runs.items() if n > 1)
    print(f"\n2,000 jobs, 2 workers x 2 processes: {elapsed:.1f} s, ran more than once: "
          f"{len(twice)} {twice[:10]}")
    assert set(runs) == set(tags)
    assert twice == []
    assert nothing_queued(redis_client)
    print(f"jobs per worker: {sorted(w.log().count('job-succeeded') for w in workers)}")
    stop_cleanly(*workers)
    assert worker_residue(redis_client) == []


@pytest.fixture
def persistent_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """Our own server with AOF and appendfsync always: a restart loses nothing written."""
    proc = ServerProcess(tmp_path / "aof", persistent=True).start()
    yield proc
    proc.stop(kill=True)


@pytest.mark.parametrize("outage", ["restart", "outage-longer-than-lease"])
def test_server_restart_mid_run_loses_and_repeats_nothing(persistent_server: ServerProcess,
                                                          spawn, outage: str) -> None:
    # Given 300 jobs of about 10 ms each being run by a worker of two processes
    url = persistent_server.url
    settings = Settings(url=url)
    client = redis.Redis.from_url(url)
    records = redis.Redis.from_url(record_url(url))
    store = RedisStore(redis.Redis.from_url(url), settings)
    tags = [f"r{i:03d}" for i in range(300)]
    enqueue_tags(store, tags, seconds=0.01)
    worker = spawn(url, processes=2, lease=5.0 if outage == "restart" else 2.0)
    wait_until(lambda: records.hlen(tasks.DONE) >= 60, "the first 60 jobs to be done")

    # When the server is restarted in the middle of the run (at once; or only once the
    # worker itself saw Redis gone, past redis-py's own retries and past every lease)
    down = time.monotonic()
    persistent_server.stop()
    if outage != "restart":  # four missed beats per child: longer than the 2 s lease
        worker.wait_log("heartbeat-failed", count=8)
    persistent_server.start()
    up = time.monotonic()
    done_at_restart = records.hlen(tasks.DONE)

    # Then the worker reconnects and carries on, and every job is done exactly once
    wait_until(lambda: all_done(client, records, tags), "300 jobs done", timeout=60,
               interval=0.1)
    runs = runs_by_job(records)
    twice = sorted(tag for tag, n in runs.items() if n > 1)
    log = worker.log()
    print(f"\nserver restart: down {up - down:.2f} s after {done_at_restart} jobs; "
          f"ran twice: {len(twice)}; redis-unavailable warnings: "
          f"{log.count('redis-unavailable')}; fenced: {log.count('fenced')}; "
          f"orphans adopted: {log.count('orphans-adopted')}; write-uncertain: "
          f"{log.count('write-uncertain')}")
    assert set(runs) == set(tags)
    assert twice == []
    assert done_at_restart < len(tags), "the restart came too late to test anything"
    assert nothing_queued(client)
    stop_cleanly(worker)
    assert worker_residue(client) == []
    for c in (client, records, store.client):
        c.close()
