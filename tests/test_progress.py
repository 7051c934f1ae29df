"""`taskq.current_job()`: id, attempt, progress and metadata, read back by producers and
`taskq job`, with the runner in-process against the real server."""

from __future__ import annotations

import json
import threading
import time

import pytest

import taskq
from taskq.store import RedisStore
from taskq.worker.aio import EventLoopThread, TaskCaller
from taskq.worker.runner import Runner
from tests import aio_tasks as a
from tests.helpers import drain
from tests.test_admin_support import cli

Q = "default"


def test_a_task_knows_its_job_and_its_progress_is_read_back(store: RedisStore) -> None:
    job = a.reports.delay(4)
    drain(store)
    assert job.result(timeout=5) == {"id": job.id, "attempt": 1, "queue": Q,
                                     "meta": {"rows": 4, "source": "test"}}
    assert job.progress() == 1.0
    assert job.meta() == {"rows": 4, "source": "test"}


def test_a_coroutine_task_sees_its_own_job_on_the_childs_loop(store: RedisStore) -> None:
    loop = EventLoopThread().start()
    try:
        job = a.areports.delay()
        store.register("test:1:w", [Q], {})
        Runner(store, "test:1:w", [Q], stop=threading.Event(), burst=True,
               caller=TaskCaller(loop)).run()
    finally:
        loop.stop()
    assert job.result(timeout=5) == {"id": job.id, "task": a.areports.name}
    assert (job.progress(), job.meta()) == ({"done": 1, "total": 2}, {"kind": "async"})


def test_progress_is_visible_while_the_job_runs_and_in_taskq_job(settings,
                                                                 store: RedisStore) -> None:
    a.MIDWAY.clear()
    job = a.halfway.delay()
    worker = threading.Thread(target=drain, args=(store,))
    worker.start()
    try:
        deadline = time.monotonic() + 30  # a bounded wait for the task to report
        while not job.refresh().get("progress") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert job.progress() == 0.5 and job.status() == "active"
        out = cli(settings.url, "job", job.id).output
        assert "progress   0.5" in out
    finally:
        a.MIDWAY.set()
        worker.join(10)
    story = json.loads(cli(settings.url, "job", job.id, "--json").stdout)
    assert story["record"]["progress"] == "0.5"


def test_progress_after_the_job_ended_is_refused(store: RedisStore) -> None:
    job = a.reports.delay(1)
    drain(store)
    assert store.set_progress(Q, job.id, 0.1) is False
    assert job.progress() == 1.0


def test_current_job_outside_a_worker_and_bad_progress_are_explicit_errors() -> None:
    with pytest.raises(taskq.NoCurrentJobError):
        taskq.current_job()
    ctx = taskq.JobContext("j", Q, "t", 1)
    with pytest.raises(taskq.ConfigurationError):
        ctx.set_progress(1.5)
    with pytest.raises(taskq.ConfigurationError):
        ctx.set_progress("half")  # type: ignore[arg-type]
