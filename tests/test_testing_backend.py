"""taskq.testing: the in-memory backend, drain and the fake clock. No server here: these
run on fakeredis with taskq's real scripts (the fixtures come from the pytest plugin)."""

from __future__ import annotations

import asyncio

import pytest

import taskq
import taskq.testing
from taskq.errors import ConfigurationError, RunawayJobError
from taskq.job import Payload
from taskq.task import DuplicateJobError
from taskq.testing import InMemoryBackend
from tests import testing_tasks as tt


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    tt.calls.clear()


def test_delay_lands_in_the_backend_and_nothing_runs(taskq_backend: InMemoryBackend) -> None:
    job = tt.welcome.delay("a@b.c")
    tt.signup.enqueue(args=["x@y.z"], delay=60)
    assert job.status() == "queued"
    assert [(p.task, p.args) for p in taskq.testing.enqueued()] == [
        (tt.welcome.name, ["a@b.c"]), (tt.signup.name, ["x@y.z"])]
    assert [p.id for p in taskq.testing.enqueued(task=tt.welcome)] == [job.id]
    assert taskq.testing.enqueued(task=tt.signup.name)[0].eta is not None
    assert taskq.testing.enqueued(queue="default")[0].task == tt.signup.name
    assert taskq_backend.runs == [] and tt.calls == []


def test_enqueue_time_checks_and_dedupe_still_apply(taskq_backend: InMemoryBackend) -> None:
    with pytest.raises(taskq.BadArgumentsError):
        tt.welcome.delay()  # type: ignore[call-arg]
    tt.welcome.enqueue(args=["a"], job_id="welcome-a")
    with pytest.raises(DuplicateJobError):
        tt.welcome.enqueue(args=["a"], job_id="welcome-a")
    assert len(taskq.testing.enqueued()) == 1


def test_drain_runs_with_the_real_runner_and_reports_each_run(
        taskq_backend: InMemoryBackend) -> None:
    job = tt.signup.delay("a@b.c")
    runs = taskq.testing.drain()
    assert [(r.task, r.ended, r.result) for r in runs] == [
        (tt.signup.name, "done", "a@b.c"), (tt.welcome.name, "done", "welcome a@b.c")]
    assert job.status() == "done" and job.result(timeout=1) == "a@b.c"
    assert taskq.testing.enqueued() == [] and taskq_backend.runs == runs


def test_drain_of_one_queue_leaves_the_others(taskq_backend: InMemoryBackend) -> None:
    tt.signup.delay("a@b.c")
    assert [r.task for r in taskq.testing.drain(queue="default")] == [tt.signup.name]
    assert [p.task for p in taskq.testing.enqueued()] == [tt.welcome.name]


def test_failure_is_retried_on_the_fake_clock_without_sleeping(
        taskq_backend: InMemoryBackend) -> None:
    job = tt.flaky.delay("k", 1)
    (first,) = taskq.testing.drain()
    assert (first.ended, first.error_type, first.attempt) == ("retry", "ConnectionError", 1)
    assert taskq.testing.drain() == []  # the retry waits for its backoff (1 s)
    taskq.testing.advance(1.0)
    (second,) = taskq.testing.drain()
    assert (second.ended, second.result, second.attempt) == ("done", "k ok after 2", 2)
    assert job.result(timeout=1) == "k ok after 2"


def test_run_until_empty_runs_retries_to_the_dead_letters(
        taskq_backend: InMemoryBackend) -> None:
    job = tt.always_fails.delay("nope")
    runs = taskq.testing.run_until_empty()
    assert [(r.attempt, r.ended) for r in runs] == [(1, "retry"), (2, "dead")]
    assert runs[-1].reason == "failed" and isinstance(runs[-1].exception, ValueError)
    (dead,) = taskq.testing.dead_letters()
    assert (dead["id"], dead["reason"], dead["error"]) == (job.id, "failed", "nope")
    assert "ValueError: nope" in dead["traceback"]
    with pytest.raises(taskq.JobFailedError):
        job.result(timeout=1)


def test_scheduled_jobs_wait_for_the_clock(taskq_backend: InMemoryBackend) -> None:
    tt.welcome.enqueue(args=["a"], delay=3600)
    assert taskq.testing.drain() == []
    taskq.testing.advance(3599)
    assert taskq.testing.drain() == []
    taskq.testing.advance(1)
    assert [r.ended for r in taskq.testing.drain()] == ["done"]


def test_retry_requested_is_not_a_failure(taskq_backend: InMemoryBackend) -> None:
    tt.later.delay(30)
    (run,) = taskq.testing.drain()
    assert run.ended == "retry" and run.error == "not yet"
    taskq.testing.advance(30)
    (again,) = taskq.testing.drain()
    assert again.attempt == 1  # not counted


def test_a_job_that_never_ends_is_stopped(taskq_backend: InMemoryBackend) -> None:
    taskq_backend.max_runs = 5
    tt.later.delay(1)
    with pytest.raises(RunawayJobError, match="more than 5 runs"):
        taskq.testing.run_until_empty()


def test_configure_while_installed_does_not_bypass_the_backend(
        taskq_backend: InMemoryBackend) -> None:
    taskq.configure(taskq.Settings.from_url("redis://127.0.0.1:1/0"))
    try:
        tt.welcome.delay("a")
    finally:
        taskq.configure(None)
    assert len(taskq.testing.enqueued()) == 1


def test_uninstall_restores_the_previous_store() -> None:
    with InMemoryBackend() as outer:
        with InMemoryBackend() as inner:
            tt.welcome.delay("a")
        tt.welcome.delay("b")
    assert [p.args for p in inner.enqueued()] == [["a"]]
    assert [p.args for p in outer.enqueued()] == [["b"]]
    assert taskq.testing.current() is None


def test_helpers_without_a_backend_say_what_to_do() -> None:
    with pytest.raises(ConfigurationError, match="taskq_backend fixture"):
        taskq.testing.drain()


def test_reset_forgets_everything(taskq_backend: InMemoryBackend) -> None:
    tt.welcome.delay("a")
    taskq.testing.drain()
    taskq_backend.advance(10)
    taskq_backend.reset()
    assert (taskq_backend.runs, taskq_backend.queues(), taskq_backend.clock.offset) == (
        [], [], 0.0)


def test_result_of_a_job_nobody_ran_says_to_drain_instead_of_hanging(
        taskq_backend: InMemoryBackend) -> None:
    job = tt.welcome.delay("a")
    with pytest.raises(taskq.ResultTimeoutError, match="drain"):
        job.result()
    taskq.testing.drain()
    assert job.result() == "welcome a"


def test_adelay_lands_in_the_backend_too(taskq_backend: InMemoryBackend) -> None:
    async def view() -> str:
        job = await tt.shout.adelay("hi")
        assert await job.astatus() == "queued"
        return job.id

    job_id = asyncio.run(view())
    (run,) = taskq.testing.drain()
    assert (run.job_id, run.result) == (job_id, "HI")


def test_drain_and_eager_work_from_inside_an_event_loop(taskq_backend: InMemoryBackend) -> None:
    async def async_test() -> None:  # what an async test (pytest-asyncio, anyio) looks like
        tt.shout.delay("a")
        (run,) = taskq_backend.drain()
        assert run.result == "A"
        with taskq.testing.eager():
            assert tt.shout.delay("b").result() == "B"

    asyncio.run(async_test())


def test_enqueue_many_in_eager_mode_runs_each_job(taskq_eager: InMemoryBackend) -> None:
    jobs = tt.welcome.enqueue_many([("a",), ("b",)])
    assert [j.result() for j in jobs] == ["welcome a", "welcome b"]


def test_an_unknown_task_is_dead_at_once_not_handed_back(taskq_backend: InMemoryBackend) -> None:
    """Every worker of a test is this process: nobody else could know the task."""
    taskq_backend.store.enqueue([Payload(id="u1", task="nowhere.missing", queue="default")])
    (run,) = taskq.testing.run_until_empty()
    assert (run.ended, run.reason) == ("dead", "unknown-task")


def test_drain_releases_dependents_as_a_worker_would(taskq_backend: InMemoryBackend) -> None:
    parent = tt.welcome.delay("a")
    child = tt.welcome.enqueue(args=["b"], depends_on=[parent])
    assert [p.args for p in taskq.testing.enqueued()] == [["a"]]  # the child waits
    assert [r.args for r in taskq.testing.drain()] == [["a"], ["b"]]
    assert child.result() == "welcome b"
