"""Tasks for the time-and-control tests, loaded by `taskq worker tests.control.tasks`.

They record into database 1 of the test server (TASKQ_CONTROL_URL): `control:runs:<tag>`
(a list, one entry per run start) and `control:events` (hook calls), so the tests count runs
while taskq's keys stay alone in database 0.
"""

from __future__ import annotations

import os
import time
from typing import Any

import redis

import taskq
from taskq import Backoff, Hook, JobContext, JobEnd, task

QUEUE = "control"
URL_ENV = "TASKQ_CONTROL_URL"
FAST = Backoff(initial=0.05, maximum=0.1, jitter=0.0)
_client: tuple[int, redis.Redis] | None = None


def client() -> redis.Redis:
    global _client
    if _client is None or _client[0] != os.getpid():
        # No read timeout: `hold` blocks up to a minute (redis-py 8's default is 5 s).
        _client = (os.getpid(), redis.Redis.from_url(os.environ[URL_ENV], socket_timeout=None))
    return _client[1]


def runs_key(tag: str) -> str:
    return f"control:runs:{tag}"


def mark_run(tag: str) -> None:
    job = taskq.current_job()
    client().rpush(runs_key(tag), f"{job.id}|{job.attempt}|{os.getpid()}")


@task(queue=QUEUE)
def record(tag: str) -> str:
    mark_run(tag)
    return f"ran {tag}"


@task(queue=QUEUE, retries=0)
def hold(tag: str, seconds: float = 60.0) -> str:
    """Runs until released (`control:release:<tag>` pushed) or `seconds` pass."""
    mark_run(tag)
    client().blpop([f"control:release:{tag}"], timeout=seconds)
    return f"held {tag}"


@task(queue=QUEUE, retries=0, concurrency=1)
def one_at_a_time(tag: str, seconds: float = 60.0) -> str:
    """Like hold, under a concurrency limit of 1 (a second one is parked)."""
    mark_run(tag)
    client().blpop([f"control:release:{tag}"], timeout=seconds)
    return f"held {tag}"


@task(queue=QUEUE, retries=3, backoff=FAST)
def until_cancelled(tag: str) -> str:
    """Checks current_job().cancelled between steps; raises once cancelled."""
    mark_run(tag)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if taskq.current_job().cancelled:
            client().rpush(f"control:saw-cancel:{tag}", "1")
            raise RuntimeError("stopped: cancelled")
        time.sleep(0.05)
    return "never cancelled"


@task(queue=QUEUE, retries=0, timeout=None)
def sleeper(tag: str) -> str:
    """Sleeps without looking at anything: only a force cancel stops it."""
    mark_run(tag)
    time.sleep(120)
    return "slept"


@task(queue=QUEUE, retries=3, backoff=FAST, retry_on=(TimeoutError, ConnectionError))
def only_network_retried(kind: str) -> None:
    mark_run(f"filter-{kind}")
    raise {"timeout": TimeoutError, "value": ValueError}[kind](f"raised {kind}")


@task(queue=QUEUE, retries=3, backoff=FAST, dont_retry_on=(KeyError,))
def never_retry_key_errors(kind: str) -> None:
    mark_run(f"dont-{kind}")
    raise {"key": KeyError, "value": ValueError}[kind](f"raised {kind}")


class RecordingHook(Hook):
    """Records every call; raises in each job hook when the job's tag says so."""

    def _note(self, what: str) -> None:
        client().rpush("control:events", what)

    def on_worker_start(self, worker_id: str) -> None:
        self._note("worker-start")

    def on_worker_stop(self, worker_id: str) -> None:
        self._note("worker-stop")

    def before_job(self, job: JobContext) -> None:
        self._note(f"before|{job.id}")
        if job.task.endswith("hooked_boom"):
            raise RuntimeError("hook broke before the job")

    def after_job(self, job: JobContext, end: JobEnd) -> None:
        self._note(f"after|{job.id}|{end.outcome}")
        if job.task.endswith("hooked_boom"):
            raise RuntimeError("hook broke after the job")


if os.environ.get(URL_ENV):  # in the test workers only, not in the pytest process
    taskq.add_hook(RecordingHook())


@task(queue=QUEUE)
def hooked_boom(tag: str) -> str:
    mark_run(tag)
    return "ran despite hooks"


def runs(tag: str) -> list[Any]:
    return [r.decode() for r in client().lrange(runs_key(tag), 0, -1)]
