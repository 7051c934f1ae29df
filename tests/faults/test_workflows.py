"""Workflows under real faults: kill -9 in the middle of a group of 100; the callback still
runs exactly once, with every member's result."""

from __future__ import annotations

import signal

import pytest

import taskq
from taskq.store import RedisStore
from tests import workflow_tasks as w
from tests.faults.conftest import wait_until
from tests.faults.helpers import stop_cleanly, wait_status

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]
WF = ("tests.workflow_tasks", "--threads", "4")


def test_kill_9_in_the_middle_of_a_group_of_100_the_callback_runs_once(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given two workers running a group of 100 members with a callback
    a = spawn(server.url, processes=2, lease=1.0, extra=WF)
    b = spawn(server.url, processes=1, lease=1.0, extra=WF)
    g = taskq.group([w.member.s(i, 0.05) for i in range(100)], then=w.collect.s(),
                    store=store)
    assert g.callback is not None

    # When worker A (supervisor and children) is killed with -9 in the middle of it
    wait_until(lambda: records.hlen("wf:members") >= 30, "30 members done")
    a.signal_group(signal.SIGKILL)
    a.wait()

    # Then every member ends done, and the callback runs exactly once with all 100 results
    wait_status(redis_client, g.callback.id, "done", timeout=60)
    for job in g.members:
        wait_status(redis_client, job.id, "done")
    assert records.get("wf:callback:runs") == b"1"
    results = [int(x) for x in records.get("wf:callback:results").decode().split(",")]
    assert results == list(range(100))
    assert not redis_client.zcard(f"taskq:{{{w.QUEUE}}}:waiting")
    stop_cleanly(b)


def test_a_dependent_on_another_queue_runs_once_its_parent_is_done(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    # Given a parent on the faults queue and a chain step on queue "other"
    worker = spawn(server.url, processes=1, extra=(*WF, "-q", "other"))
    first, second = taskq.chain(w.member.s(1, 0.0),
                                taskq.Signature(w.member, (0.0,), options={"queue": "other"}),
                                store=store)
    record = wait_status(redis_client, first.id, "done")
    assert record["status"] == "done"
    done = wait_until(lambda: redis_client.hget(f"taskq:{{other}}:job:{second.id}", "status")
                      == b"done", "the step on the other queue")
    assert done
    assert records.hget("wf:members", "1") == b"2"  # the parent's result came first
    stop_cleanly(worker)
