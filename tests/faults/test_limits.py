"""Rate and concurrency limits held across several real worker processes, and a crashed
worker's permit coming back through its lease."""

from __future__ import annotations

import signal

import pytest

from taskq.store import RedisStore
from tests import limit_tasks as lt
from tests.faults import tasks
from tests.faults.conftest import wait_until
from tests.faults.helpers import job_payload, stop_cleanly, wait_started, wait_status

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]
LIM = ("tests.limit_tasks",)
TWENTY = (*LIM, "--threads", "10")  # with processes=2: 20 runner threads


def test_twenty_threads_never_run_more_than_the_concurrency_of_three(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given 30 jobs of a task limited to 3 at once, and 20 runner threads in 2 processes
    jobs = lt.three_at_most.enqueue_many([("c", 10.0)] * 30, store=store)
    workers = [spawn(server.url, processes=2, extra=TWENTY)]

    # Then all run, once each and never failed, and the peak measured in Redis is 3
    wait_until(lambda: records.hget("lim:done", "c") == b"30", "30 limited jobs done", 90)
    assert int(records.get("lim:c:peak") or 0) == 3
    for job in jobs:
        wait_status(redis_client, job.id, "done")
        assert job_payload(redis_client, job.id).attempt == 1
    stop_cleanly(*workers)


def test_a_rate_of_50_a_second_gives_500_starts_in_10_seconds(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given 700 jobs of a task limited to 50/s and 20 runner threads in 2 processes
    lt.fifty_a_second.enqueue_many([("r",)] * 700, store=store)
    worker = spawn(server.url, processes=2, extra=TWENTY)

    # Then any 10 s of starts (server clock) hold 500 of them, within 5 % (the window
    # opens at the 20th start: the very first ones pay for the children's first connection)
    def starts() -> list[float]:
        return sorted(float(t) for t in records.lrange("lim:r:starts", 0, -1))

    wait_until(lambda: len(s := starts()) > 20 and s[-1] - s[20] > 10.5, "10 s of starts", 60)
    times = starts()
    in_window = sum(1 for t in times if times[20] <= t < times[20] + 10)
    print(f"\nrate 50/s: {in_window} starts in the first 10 s")
    assert 475 <= in_window <= 525
    stop_cleanly(worker)


def test_one_tenants_burst_does_not_hold_back_another_tenant(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given 1,000 jobs of tenant a queued first (2 at a time per tenant), then 10 of b
    lt.per_customer.enqueue_many([("a", 0.05)] * 1000, store=store)
    lt.per_customer.enqueue_many([("b", 0.05)] * 10, store=store)
    worker = spawn(server.url, processes=2, extra=TWENTY)

    # Then b's 10 all finish while most of a's burst is still waiting its turn
    wait_until(lambda: records.hget("lim:done", "b") == b"10", "tenant b's 10 jobs", 60)
    a_done = int(records.hget("lim:done", "a") or 0)
    print(f"\ntenant b done after {a_done} of tenant a's 1,000")
    assert a_done < 500
    assert records.llen("lim:started:b") == 10
    worker.signal_group(signal.SIGKILL)


def test_a_killed_workers_permit_comes_back_through_its_lease(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given a task limited to one at a time: worker A runs the first job, and has parked
    # the second (its other thread fetched it)
    a = spawn(server.url, processes=1, lease=1.0, extra=(*LIM, "--threads", "2"))
    lt.alone.enqueue(args=["first"], job_id="first", store=store)
    wait_started(records, "first")
    lt.alone.enqueue(args=["second"], job_id="second", store=store)
    wait_until(lambda: redis_client.hget(f"taskq:{{{tasks.QUEUE}}}:job:second", "held"),
               "the second job parked")

    # When worker A is killed with -9 (supervisor and child) and worker B starts
    a.signal_group(signal.SIGKILL)
    a.wait()
    b = spawn(server.url, processes=1, lease=1.0, extra=(*LIM, "--threads", "2"))

    # Then the permit comes back once A's lease expired: both jobs run, one at a time
    wait_status(redis_client, "second", "done")
    wait_started(records, "first")  # its second start, after recovery
    records.rpush(tasks.release_key("first"), 1)
    wait_status(redis_client, "first", "done")
    assert records.hget("lim:done", "second") == b"1"
    assert records.hget("lim:done", "first") == b"1"
    assert job_payload(redis_client, "first").crashes == 1
    stop_cleanly(b)
