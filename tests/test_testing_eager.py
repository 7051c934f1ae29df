"""taskq.testing's eager mode: `.delay()` runs at once in the caller, after the enqueue-time
checks, and returns a finished handle. No server here."""

from __future__ import annotations

import asyncio

import pytest

import taskq
import taskq.testing
from taskq.errors import RunawayJobError
from taskq.task import DuplicateJobError
from taskq.testing import InMemoryBackend
from tests import testing_tasks as tt


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    tt.calls.clear()


def test_delay_runs_at_once_and_returns_a_finished_handle(taskq_eager: InMemoryBackend) -> None:
    job = tt.flaky.delay("k", 0)
    assert tt.calls == ["k"]
    assert job.status() == "done" and job.result() == "k ok after 1"
    assert taskq.testing.enqueued() == []


def test_the_checks_of_enqueue_run_first(taskq_eager: InMemoryBackend) -> None:
    with pytest.raises(taskq.BadArgumentsError):
        tt.flaky.delay("k")  # type: ignore[call-arg]
    with pytest.raises(taskq.SerializationError):
        tt.flaky.delay({1, 2}, 0)  # type: ignore[arg-type]
    assert tt.calls == []


def test_enqueue_refuses_the_id_of_a_job_still_pending() -> None:
    with taskq.testing.eager(propagate=False):
        tt.welcome.enqueue(args=["a"], job_id="w-1")
        tt.welcome.enqueue(args=["a"], job_id="w-1")  # done: its id may be reused
        tt.always_fails.enqueue(args=["x"], job_id="f-1")
        with pytest.raises(DuplicateJobError):  # dead is not done: refused
            tt.always_fails.enqueue(args=["x"], job_id="f-1")


def test_retries_run_at_once_then_the_exception_propagates(taskq_eager: InMemoryBackend) -> None:
    with pytest.raises(ValueError, match="nope"):
        tt.always_fails.delay("nope")
    assert [(r.attempt, r.ended) for r in taskq_eager.runs] == [(1, "retry"), (2, "dead")]
    assert taskq_eager.clock.offset > 0.5  # the backoff was skipped on the fake clock


def test_a_retry_that_succeeds_does_not_raise(taskq_eager: InMemoryBackend) -> None:
    job = tt.flaky.delay("k", 2)
    assert job.result() == "k ok after 3" and tt.calls == ["k", "k", "k"]


def test_propagate_false_keeps_the_job_dead() -> None:
    with taskq.testing.eager(propagate=False) as backend:
        job = tt.always_fails.delay("nope")
        assert job.status() == "dead"
        with pytest.raises(taskq.JobFailedError, match="nope"):
            job.result()
        (dead,) = backend.dead_letters()
        assert (dead["id"], dead["reason"], dead["error_type"]) == (job.id, "failed",
                                                                    "ValueError")


def test_eager_block_without_a_fixture_installs_its_own_backend() -> None:
    with taskq.testing.eager() as backend:
        assert tt.welcome.delay("a").result() == "welcome a"
    assert taskq.testing.current() is None and len(backend.runs) == 1


def test_eager_block_uses_the_installed_backend_and_switches_back(
        taskq_backend: InMemoryBackend) -> None:
    with taskq.testing.eager() as backend:
        tt.welcome.delay("a")
    assert backend is taskq_backend and not taskq_backend.eager
    tt.welcome.delay("b")
    assert [p.args for p in taskq.testing.enqueued()] == [["b"]]


def test_jobs_enqueued_inside_an_eager_task_run_too(taskq_eager: InMemoryBackend) -> None:
    assert tt.signup.delay("a@b.c").result() == "a@b.c"
    assert [r.task for r in taskq_eager.runs] == [tt.welcome.name, tt.signup.name]


def test_a_delay_runs_at_once_and_older_queued_jobs_stay(taskq_backend: InMemoryBackend) -> None:
    older = tt.welcome.delay("first")
    with taskq.testing.eager():
        assert tt.welcome.enqueue(args=["now"], delay=3600).status() == "done"
    assert older.status() == "queued"


def test_a_job_that_always_asks_to_retry_is_stopped(taskq_eager: InMemoryBackend) -> None:
    taskq_eager.max_runs = 3
    with pytest.raises(RunawayJobError, match="3 times"):
        tt.later.delay(10)


def test_coroutine_tasks_and_async_producers_work_eagerly(taskq_eager: InMemoryBackend) -> None:
    assert tt.shout.delay("hi").result() == "HI"

    async def web_view() -> str:  # an async view: adelay and aresult on the same backend
        job = await tt.shout.adelay("there")
        return str(await job.aresult())

    assert asyncio.run(web_view()) == "THERE"
    with pytest.raises(ValueError, match="nope"):
        asyncio.run(tt.always_fails.adelay("nope"))


def test_a_dependent_runs_once_its_parents_are_done(taskq_eager: InMemoryBackend) -> None:
    parent = tt.welcome.delay("a")
    child = tt.welcome.enqueue(args=["b"], depends_on=[parent])
    assert (child.status(), child.result()) == ("done", "welcome b")
