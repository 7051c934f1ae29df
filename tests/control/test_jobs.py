"""Cancel, expiry, unique and idempotent jobs, retry filters and hooks, each with a real
`taskq worker` process against the test server."""

from __future__ import annotations

import json
import signal
import time

import pytest

import taskq
from taskq.job import decode
from tests.control import tasks
from tests.faults.conftest import wait_until

Q = tasks.QUEUE


def wait_status(job: taskq.Job, wanted: str, timeout: float = 30) -> dict[str, str]:
    return wait_until(lambda: (r := job.refresh())["status"] == wanted and r,
                      f"job {job.id} to be {wanted}", timeout)


def wait_runs(tag: str, count: int = 1, timeout: float = 30) -> list[str]:
    return wait_until(lambda: len(r := tasks.runs(tag)) >= count and r,
                      f"{count} run(s) of {tag}", timeout)


# --- retry filters ----------------------------------------------------------------------
@pytest.mark.parametrize(("task", "kind", "runs", "final"), [
    (tasks.only_network_retried, "timeout", 4, "failed"),
    (tasks.only_network_retried, "value", 1, "failed: ValueError is not in retry_on "
                                             "(TimeoutError, ConnectionError): not retried"),
    (tasks.never_retry_key_errors, "key", 1, "failed: KeyError is in dont_retry_on "
                                           "(KeyError): not retried"),
    (tasks.never_retry_key_errors, "value", 4, "failed"),
])
def test_an_exception_outside_the_retry_filter_is_dead_at_once_with_the_reason(
        store, records, spawn, task, kind, runs, final) -> None:
    job = task.delay(kind)
    spawn()
    record = wait_status(job, "dead")
    assert record["reason"] == final
    prefix = "filter" if task is tasks.only_network_retried else "dont"
    assert len(tasks.runs(f"{prefix}-{kind}")) == runs
    assert [e["event"] for e in job.history()].count("retrying") == runs - 1


# --- expiry -----------------------------------------------------------------------------
def test_a_job_not_started_before_it_expires_never_runs_and_ends_expired(
        store, records, spawn) -> None:
    late = tasks.record.enqueue(args=["late"], expires=1)
    on_time = tasks.record.enqueue(args=["on-time"], expires=600)
    time.sleep(1.2)  # let the first job's expiry pass before any worker exists
    spawn()
    wait_status(on_time, "done")
    record = wait_status(late, "expired")
    assert tasks.runs("late") == [] and len(tasks.runs("on-time")) == 1
    assert record["reason"] == "expired"
    with pytest.raises(taskq.JobFailedError, match="expired"):
        late.result(timeout=5)
    assert [e["event"] for e in late.history()][-1] == "expired"


def test_task_level_expires_and_a_delay_past_it_is_refused(store) -> None:
    with pytest.raises(taskq.ConfigurationError, match="expire"):
        tasks.record.enqueue(args=["x"], delay=10, expires=5)
    with pytest.raises(taskq.ConfigurationError, match="expires"):
        tasks.record.enqueue(args=["x"], expires=-1)


# --- cancellation -----------------------------------------------------------------------
def test_a_waiting_job_is_cancelled_and_never_runs(store, records, spawn) -> None:
    queued = tasks.record.delay("queued")
    scheduled = tasks.record.enqueue(args=["scheduled"], delay=1)
    assert queued.cancel() == "cancelled" and scheduled.cancel() == "cancelled"
    after = tasks.record.delay("after")
    spawn()
    wait_status(after, "done")
    time.sleep(1.2)  # past the scheduled one's due time: it must not have been promoted
    assert tasks.runs("queued") == [] and tasks.runs("scheduled") == []
    assert queued.status() == "cancelled" and scheduled.status() == "cancelled"
    assert store.client.llen(store.keys.ready(Q)) == 0
    assert store.client.zcard(store.keys.scheduled(Q)) == 0
    assert after.cancel() == "done"  # an ended job is left alone


def test_a_running_job_sees_the_flag_and_ends_cancelled_not_retried(
        store, records, spawn) -> None:
    job = tasks.until_cancelled.delay("soft")
    spawn()
    wait_runs("soft")
    assert job.status() == "active"
    assert job.cancel() == "requested"
    record = wait_status(job, "cancelled")
    assert records.llen("control:saw-cancel:soft") == 1
    assert len(tasks.runs("soft")) == 1  # raised after the cancel: not retried
    assert "stopped: cancelled" in record["error"]
    assert store.client.zcard(store.keys.dead(Q)) == 0


def test_force_cancel_kills_the_child_and_the_job_ends_cancelled(store, records, spawn) -> None:
    job = tasks.sleeper.delay("force")
    worker = spawn()
    wait_runs("force")
    child = worker.children()
    assert job.cancel(force=True) == "requested"
    wait_status(job, "cancelled", timeout=30)
    worker.wait_log("job-force-cancelled")
    # The worker carries on with a new child, and the job was not run again.
    after = tasks.record.delay("after-force")
    wait_status(after, "done")
    assert worker.children() != child
    assert len(tasks.runs("force")) == 1
    assert store.client.zcard(store.keys.dead(Q)) == 0
    assert store.client.hlen(store.keys.running(Q)) == 0


def test_a_cancel_racing_the_jobs_end_is_decided_once(store, records, spawn) -> None:
    """The job finishes as the cancel arrives: whichever script runs first wins, and the job
    ends exactly once, either done (the cancel is too late) or cancelled."""
    spawn()
    outcomes = []
    for i in range(10):
        job = tasks.hold.enqueue(args=[f"race-{i}"])
        wait_runs(f"race-{i}")
        records.rpush(f"control:release:race-{i}", "go")  # it returns now...
        said = job.cancel()  # ...while the cancel arrives
        final = wait_until(lambda j=job: j.status() in ("done", "cancelled") and j.status(),
                           "the job's end")
        outcomes.append((said, final))
        assert (said, final) in (("done", "done"), ("requested", "done"),
                                 ("requested", "cancelled")), outcomes
        assert len(tasks.runs(f"race-{i}")) == 1


def test_taskq_queue_clear_cancels_every_waiting_job(store, records, spawn) -> None:
    from click.testing import CliRunner

    from taskq.cli import main

    jobs = [tasks.record.delay(f"c{i}") for i in range(5)]
    jobs.append(tasks.record.enqueue(args=["c-later"], delay=30))
    url = store.settings.url
    dry = CliRunner().invoke(main, ["queue", "clear", Q, "--dry-run", "--url", url])
    assert dry.exit_code == 0 and "6 waiting jobs would be cancelled" in dry.output
    assert all(j.status() in ("queued", "scheduled") for j in jobs)
    done = CliRunner().invoke(main, ["queue", "clear", Q, "--url", url, "--json"])
    assert json.loads(done.output)["cancelled"] == 6
    assert all(j.status() == "cancelled" for j in jobs)
    spawn()
    last = tasks.record.delay("after-clear")
    wait_status(last, "done")
    assert all(tasks.runs(f"c{i}") == [] for i in range(5))
    shown = CliRunner().invoke(main, ["job", jobs[0].id, "--url", url])
    assert "cancelled" in shown.output
    again = CliRunner().invoke(main, ["job", "cancel", last.id, "--url", url])
    assert again.exit_code == 1


# --- unique and idempotent jobs ---------------------------------------------------------
@pytest.mark.parametrize("kind", ["unique_key", "idempotency_key"])
def test_a_key_returns_the_pending_job_and_survives_a_worker_crash(
        store, records, spawn, kind) -> None:
    key = {kind: "invoice-42"}
    first = tasks.hold.enqueue(args=["u"], **key)
    assert first.existing is False
    again = tasks.hold.enqueue(args=["u"], **key)
    assert (again.existing, again.id) == (True, first.id)
    worker = spawn(lease=1.0)
    wait_runs("u")
    worker.signal_group(signal.SIGKILL)  # the job is held by a dead worker
    worker.wait()
    assert tasks.hold.enqueue(args=["u"], **key).id == first.id
    spawn(lease=1.0)  # recovers it (lease expired) and runs it again
    wait_runs("u", 2)
    assert tasks.hold.enqueue(args=["u"], **key).id == first.id
    records.rpush("control:release:u", "go")
    wait_status(first, "done")
    if kind == "unique_key":  # a unique key is free once its job ended
        fresh = tasks.hold.enqueue(args=["u2"], unique_key="invoice-42", unique_for=60)
        assert fresh.existing is False and fresh.id != first.id
        ttl = store.client.ttl(store.keys.unique(Q, "invoice-42"))
        assert 0 < ttl <= 60
    else:  # an idempotency key answers with the stored result, and never runs again
        done = tasks.hold.enqueue(args=["u"], **key)
        assert (done.existing, done.id, done.result(timeout=5)) == (True, first.id, "held u")
        assert len(tasks.runs("u")) == 2  # the run the crash cut off, and the one that ended


def test_idempotency_key_returns_the_stored_result_and_never_runs_again(
        store, records, spawn) -> None:
    first = tasks.record.enqueue(args=["idem"], idempotency_key="charge-7")
    spawn()
    assert first.result(timeout=30) == "ran idem"
    for _ in range(3):
        again = tasks.record.enqueue(args=["idem"], idempotency_key="charge-7")
        assert (again.existing, again.id) == (True, first.id)
        assert again.result(timeout=5) == "ran idem"
    wait_status(tasks.record.delay("idem-after"), "done")
    assert len(tasks.runs("idem")) == 1
    # A job that did not succeed does not hold the key: the next enqueue runs.
    dead = tasks.only_network_retried.enqueue(args=["value"], idempotency_key="k2")
    wait_status(dead, "dead")
    retry = tasks.only_network_retried.enqueue(args=["value"], idempotency_key="k2")
    assert retry.existing is False and retry.id != dead.id
    assert store.client.ttl(store.keys.job(Q, first.id)) > 0


def test_unique_and_idempotency_keys_together_are_refused(store) -> None:
    with pytest.raises(taskq.ConfigurationError, match="not both"):
        tasks.record.enqueue(args=["x"], unique_key="a", idempotency_key="b")


# --- hooks ------------------------------------------------------------------------------
def test_a_hook_that_raises_is_logged_and_the_job_runs_once(store, records, spawn) -> None:
    worker = spawn()
    job = tasks.hooked_boom.delay("hooked")
    ok = tasks.record.delay("plain")
    assert job.result(timeout=30) == "ran despite hooks"
    assert ok.result(timeout=30) == "ran plain"
    worker.wait_log("hook-failed", count=2)
    assert len(tasks.runs("hooked")) == 1
    wanted = {"worker-start", f"before|{job.id}", f"after|{job.id}|succeeded",
              f"after|{ok.id}|succeeded"}  # after_job runs just after the ack is written
    wait_until(lambda: wanted <= {e.decode() for e in records.lrange("control:events", 0, -1)},
               f"the hook calls {wanted}")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert b"worker-stop" in records.lrange("control:events", 0, -1)


# --- a job from its id ------------------------------------------------------------------
def test_get_job_finds_a_job_from_its_id_alone(store, records, spawn) -> None:
    other = tasks.record.enqueue(args=["q2"], queue="elsewhere")
    mine = tasks.record.enqueue(args=["own"], job_id="order-17")
    assert taskq.get_job(other.id).queue == "elsewhere"
    assert taskq.get_job("order-17").queue == Q  # own ids: every known queue is checked
    assert taskq.get_job("order-17", queue=Q).id == mine.id
    with pytest.raises(taskq.JobNotFoundError):
        taskq.get_job("order-17", queue="elsewhere")
    with pytest.raises(taskq.JobNotFoundError):
        taskq.get_job("0" * 32)
    spawn()
    assert taskq.get_job(mine.id).result(timeout=30) == "ran own"


def test_a_generated_id_is_found_in_one_round_trip(store) -> None:
    from tests.helpers import count_round_trips

    job = tasks.record.enqueue(args=["x"], queue="far-away")
    assert decode(store.client.hget(store.keys.job("far-away", job.id), "payload")).queue == (
        "far-away")
    with count_round_trips() as calls:
        found = taskq.get_job(job.id, store=store)
    assert (found.queue, calls[0]) == ("far-away", 1)


def test_current_job_outside_a_job_says_so() -> None:
    with pytest.raises(taskq.NoCurrentJobError):
        taskq.current_job()



def test_on_enqueue_hooks_see_each_enqueue_and_a_raising_one_costs_nothing(store) -> None:
    seen: list[tuple[str, str, bool]] = []

    class Seen(taskq.Hook):
        def on_enqueue(self, job: taskq.Job, task: str, existing: bool) -> None:
            seen.append((job.id, task, existing))

    class Broken(taskq.Hook):
        def on_enqueue(self, job: taskq.Job, task: str, existing: bool) -> None:
            raise RuntimeError("broken hook")

    hooks = [taskq.add_hook(Broken()), taskq.add_hook(Seen())]
    try:
        job = tasks.record.enqueue(args=["h"], unique_key="h")
        again = tasks.record.enqueue(args=["h"], unique_key="h")
    finally:
        for hook in hooks:
            taskq.remove_hook(hook)
    assert seen == [(job.id, "tests.control.tasks.record", False),
                    (job.id, "tests.control.tasks.record", True)]
    assert again.id == job.id and job.status() == "queued"


def test_waiting_jobs_of_every_priority_line_are_cancelled_and_cleared(store) -> None:
    from click.testing import CliRunner

    from taskq.cli import main

    first = tasks.record.delay("p0")  # ready is empty: the next ones wait in their lines
    high = tasks.record.enqueue(args=["p1"], priority=taskq.HIGH)
    low = tasks.record.enqueue(args=["p2"], priority=taskq.LOW)
    assert store.client.llen(store.keys.ready_high(Q)) == 1
    assert high.cancel() == "cancelled" and high.status() == "cancelled"
    assert store.client.llen(store.keys.ready_high(Q)) == 0
    url = store.settings.url
    out = CliRunner().invoke(main, ["queue", "clear", Q, "--url", url, "--json"])
    assert json.loads(out.output)["cancelled"] == 2
    assert first.status() == low.status() == "cancelled"
    assert not any(store.client.llen(k) for k in store.keys.ready_lines(Q))


def test_cancelling_a_parent_or_a_waiting_dependent(store, records, spawn) -> None:
    parent = tasks.record.enqueue(args=["parent"], delay=30)
    child = tasks.record.enqueue(args=["child"], depends_on=[parent])
    other = tasks.record.enqueue(args=["other"], depends_on=[parent])
    assert child.status() == "waiting"
    assert child.cancel() == "cancelled"  # waiting for its parents: removed from waiting
    assert not store.client.zscore(store.keys.waiting(Q), child.id)
    assert parent.cancel() == "cancelled"
    spawn()  # the supervisors' sweep tells the other dependent its parent will never be done
    record = wait_status(other, "dead", timeout=90)
    assert record["reason"] == "parent failed" and "cancelled" in record["error"]
    assert tasks.runs("child") == tasks.runs("other") == tasks.runs("parent") == []


def test_a_job_parked_by_a_concurrency_limit_is_cancelled(store, records, spawn) -> None:
    running = tasks.one_at_a_time.delay("limit-a")
    parked = tasks.one_at_a_time.delay("limit-b")
    spawn(extra=("--threads", "2"))
    wait_runs("limit-a")
    wait_until(lambda: parked.refresh().get("held"), "the second job to be parked")
    assert parked.cancel() == "cancelled"
    records.rpush("control:release:limit-a", "go")
    wait_status(running, "done")
    after = tasks.record.delay("after-limit")
    wait_status(after, "done")
    assert parked.status() == "cancelled" and tasks.runs("limit-b") == []
