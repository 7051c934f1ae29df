"""Queues nobody serves: `taskq stats` and `taskq doctor` flag a queue whose ready jobs have
waited over a minute with no live worker (the most common reason a job "never ran")."""

from __future__ import annotations

import json
import time

from taskq.job import Payload
from taskq.store import RedisStore
from tests.test_admin_support import cli


def stale_job(store: RedisStore, queue: str, waited: float = 120.0) -> None:
    store.enqueue([Payload(id=f"{queue}-1", task="workers.maths.add", queue=queue,
                           args=[1, 2], enqueued_at=time.time() - waited)])


def test_stats_flags_a_queue_with_old_ready_jobs_and_no_live_worker(store: RedisStore) -> None:
    url = store.settings.url or ""
    stale_job(store, "reports")
    stale_job(store, "fresh", waited=1.0)  # waited only a second: not flagged yet
    stale_job(store, "served")
    store.register("host:1:w", ["served"], {"host": "host", "pid": 1})
    table = cli(url, "stats")
    assert table.exit_code == 0, table.output
    assert ("UNSERVED: queue 'reports' has 1 ready job and no live worker for over a minute "
            "(the oldest waited 2 min): start one with `taskq worker MODULE -q reports`"
            ) in table.stdout
    assert "'fresh'" not in table.stdout and "'served'" not in table.stdout
    rows = {r["queue"]: r for r in json.loads(cli(url, "stats", "--json").stdout)["queues"]}
    assert (rows["reports"]["unserved"], rows["fresh"]["unserved"],
            rows["served"]["unserved"]) == (True, False, False)


def test_doctor_warns_about_unserved_queues_without_failing(store: RedisStore) -> None:
    url = store.settings.url or ""
    assert "[OK     ] queues: every queue with ready jobs has a live worker" in cli(
        url, "doctor").stdout
    stale_job(store, "reports")
    out = cli(url, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert checks["queues"]["level"] == "warn"
    assert "queue 'reports' has 1 ready job and no live worker" in checks["queues"]["detail"]


def test_a_queue_is_unserved_by_how_long_its_last_worker_has_been_gone(
        store: RedisStore) -> None:
    url = store.settings.url or ""
    now_ms = store.lease_clock_ms()
    # Given a queue whose last worker left 10 s ago (its published lease ended then), with a
    # job that has waited two minutes: not yet a minute without a worker
    stale_job(store, "recent")
    store.client.hset(store.keys.known_tasks("recent"), "workers.maths.add", now_ms - 10_000)
    # and a queue whose last worker left two minutes ago, with a job enqueued 5 s ago
    stale_job(store, "gone", waited=5.0)
    store.client.hset(store.keys.known_tasks("gone"), "workers.maths.add", now_ms - 120_000)
    rows = {r["queue"]: r for r in json.loads(cli(url, "stats", "--json").stdout)["queues"]}
    assert (rows["recent"]["unserved"], rows["gone"]["unserved"]) == (False, True)
