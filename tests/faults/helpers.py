"""Reading taskq's state the way an operator would, for the fault tests' assertions."""

from __future__ import annotations

import signal
import time
from typing import Any

import redis

from taskq.config import Settings
from taskq.job import Payload, decode
from taskq.keys import Keys
from taskq.store import RedisStore
from tests.faults import tasks
from tests.faults.conftest import WorkerProcess, wait_until

KEYS = Keys()
Q = tasks.QUEUE


def job_hash(client: redis.Redis, job_id: str) -> dict[str, str]:
    raw: dict[bytes, bytes] = client.hgetall(KEYS.job(Q, job_id))  # type: ignore[assignment]
    return {k.decode(): v.decode(errors="replace") for k, v in raw.items()}


def job_payload(client: redis.Redis, job_id: str) -> Payload:
    raw = client.hget(KEYS.job(Q, job_id), "payload")
    assert isinstance(raw, bytes), f"job {job_id} has no payload"
    return decode(raw)


def history(client: redis.Redis, job_id: str) -> list[dict[str, Any]]:
    """The job's story as taskq tells it (stored events plus enqueue and success)."""
    return RedisStore(client, Settings(url="redis://unused:1/0")).history(Q, job_id)


def events(client: redis.Redis, job_id: str) -> list[str]:
    return [e["event"] for e in history(client, job_id)]


def wait_status(client: redis.Redis, job_id: str, status: str, timeout: float = 30) -> dict:
    return wait_until(lambda: (h := job_hash(client, job_id)).get("status") == status and h,
                      f"job {job_id} to be {status}", timeout)


def worker_pid(worker_id: str) -> int:
    """Worker ids are host:pid:token."""
    return int(worker_id.split(":")[-2])


def wait_started(records: redis.Redis, tag: str, timeout: float = 30) -> tuple[int, float]:
    """Block until the task `tag` starts (again); returns (pid that runs it, when)."""
    popped = records.blpop([tasks.started_key(tag)], timeout=timeout)
    assert popped is not None, f"task {tag} did not start within {timeout} s"
    return int(popped[1]), time.monotonic()


def live_workers(client: redis.Redis) -> int:
    return int(client.zcard(KEYS.workers()))


def stop_cleanly(*workers: WorkerProcess) -> None:
    """SIGTERM (what a process manager sends) and expect a clean exit 0."""
    for w in workers:
        w.signal(signal.SIGTERM)
    for w in workers:
        code = w.wait()
        assert code == 0, f"worker exited {code}; log:\n{w.log()[-3000:]}"


def worker_residue(client: redis.Redis) -> list[str]:
    """Keys that only a live worker may hold: leases, active lists, running marks, registry."""
    names = [k.decode() for k in client.scan_iter("taskq:*", count=1000)]
    markers = (":leases", ":active:", ":running", "taskq:workers", "taskq:worker:")
    return sorted(n for n in names if any(m in n for m in markers))


def nothing_queued(client: redis.Redis) -> bool:
    return not client.exists(KEYS.ready(Q), KEYS.scheduled(Q))
