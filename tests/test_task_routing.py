"""Workers that know different tasks share a queue: a worker lacking a job's task hands it back
for one that knows it, and dead-letters it as unknown-task only when no live worker has known
the task for the grace period."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO

import pytest

from taskq.config import Settings
from taskq.connection import connect
from taskq.errors import UnknownTaskError
from taskq.job import Payload
from taskq.store import RedisStore
from taskq.store.routing import BouncePolicy
from taskq.worker.routing import allowed, candidate_modules, resolve_task
from taskq.worker.runner import Runner

ROOT = Path(__file__).resolve().parent.parent
Q = "default"
W = "test:1:w"


def store_with(settings: Settings, **changes: object) -> RedisStore:
    changed = replace(settings, **changes)  # type: ignore[arg-type]
    return RedisStore(connect(changed), changed)  # a Cluster's client under the cluster run


def runner(store: RedisStore) -> Runner:
    store.register(W, [Q], {"host": "test", "pid": 1})
    return Runner(store, W, [Q], stop=threading.Event(), burst=True)


def test_a_job_another_live_worker_knows_is_handed_back_not_dead(store: RedisStore) -> None:
    # Given another live worker on the queue knows team-b's task, and this one does not
    store.publish_tasks([Q], ["teamb.maths.add"])
    store.enqueue([Payload(id="b1", task="teamb.maths.add", queue=Q, args=[1, 2])])
    # When this worker takes the job
    assert runner(store).run_once(block=False)
    # Then it is back in the scheduled set, counted, and nowhere else
    rec = store.client.hgetall(store.keys.job(Q, "b1"))
    assert (rec[b"status"], rec[b"bounces"]) == (b"scheduled", b"1")
    assert b"unknown_since" not in rec
    assert store.client.zcard(store.keys.scheduled(Q)) == 1
    assert store.client.zcard(store.keys.dead(Q)) == 0
    assert store.client.llen(store.keys.active(Q, W)) == 0
    assert store.client.hlen(store.keys.running(Q)) == 0


def test_delays_grow_with_each_bounce_so_no_worker_spins(store: RedisStore) -> None:
    store.publish_tasks([Q], ["teamb.maths.add"])
    store.enqueue([Payload(id="b2", task="teamb.maths.add", queue=Q)])
    store.register(W, [Q], {})
    delays = []
    for _ in range(7):
        store.client.zremrangebyscore(store.keys.scheduled(Q), "-inf", "+inf")
        raw = store.client.hget(store.keys.job(Q, "b2"), "payload")
        store.client.lpush(store.keys.ready(Q), raw)  # due at once (as the promoter would)
        (delivery,) = store.fetch(Q, W, 1)
        policy = BouncePolicy(jitter=0.0)
        delays.append(store.bounce(delivery, "teamb.maths.add", policy).delay)
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert store.client.hget(store.keys.job(Q, "b2"), "bounces") == b"7"


def test_with_no_grace_a_task_nobody_knows_is_dead_at_once(settings: Settings) -> None:
    store = store_with(settings, unknown_task_grace=0)
    store.enqueue([Payload(id="u0", task="nowhere.missing", queue=Q)])
    runner(store).run_once(block=False)
    rec = store.job_record(Q, "u0")
    assert (rec["status"], rec["reason"]) == ("dead", "unknown-task")
    assert "no live worker on queue 'default' knows task 'nowhere.missing'" in rec["error"]
    assert "taskq worker nowhere" in rec["error"]


def test_a_task_nobody_knows_is_dead_once_the_grace_period_passed(settings: Settings) -> None:
    store = store_with(settings, unknown_task_grace=0.3)
    store.enqueue([Payload(id="u1", task="nowhere.missing", queue=Q)])
    r = runner(store)
    r.run_once(block=False)
    assert store.job_record(Q, "u1")["status"] in ("scheduled", "queued")  # first: handed back
    assert store.client.hget(store.keys.job(Q, "u1"), "unknown_since") is not None
    deadline = time.monotonic() + 30
    while store.job_record(Q, "u1")["status"] != "dead" and time.monotonic() < deadline:
        store.promote_due(Q)
        r.run_once(block=False)
    rec = store.job_record(Q, "u1")
    assert (rec["status"], rec["reason"]) == ("dead", "unknown-task")
    assert store.client.zscore(store.keys.dead(Q), "u1") is not None


def test_a_job_bounced_too_often_is_dead_letters_not_a_loop(store: RedisStore) -> None:
    store.publish_tasks([Q], ["teamb.maths.add"])
    store.enqueue([Payload(id="b3", task="teamb.maths.add", queue=Q)])
    r = runner(store)
    r.bounce_policy = BouncePolicy(max_bounces=2, first=0.0, most=0.0)
    for _ in range(3):
        store.promote_due(Q)
        r.run_once(block=False)
    rec = store.job_record(Q, "b3")
    assert (rec["status"], rec["reason"]) == ("dead", "unknown-task")
    assert "handed back 2 times" in rec["error"]


def test_published_tasks_live_as_long_as_the_lease(store: RedisStore) -> None:
    key = store.keys.known_tasks(Q)
    store.client.hset(key, "gone.worker.task", 1)  # a worker whose lease ran out long ago
    store.publish_tasks([Q], ["a.b", "c.d"])
    known = store.known_tasks(Q)
    assert set(known) == {"a.b", "c.d"}
    assert 0 < store.client.pttl(key) <= store.settings.lease_ttl * 1000 + 3_600_000


def test_import_from_imports_only_under_the_allowed_prefixes() -> None:
    assert candidate_modules("pkg.mod.Class.fn") == ["pkg.mod.Class", "pkg.mod", "pkg"]
    assert allowed("workers.maths", ["workers"]) and allowed("workers", ["workers"])
    assert not allowed("workersx.maths", ["workers"])
    assert not allowed("os", ["workers"]) and not allowed("..x", [".."])
    assert "tests.import_me" not in sys.modules
    with pytest.raises(UnknownTaskError):
        resolve_task("tests.import_me.hello", ("workers",))
    assert "tests.import_me" not in sys.modules
    assert resolve_task("tests.import_me.hello", ("tests",))("ada") == "hello ada"


# --- two real workers, two teams, one queue ----------------------------------------------

class Worker:
    def __init__(self, url: str, tmp: Path, module: str) -> None:
        self.log_path = tmp / f"{module}.log"
        self.log: IO[bytes] = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "TASKQ_REDIS_URL": url, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "taskq", "worker", module, "-c", "1", "--lease", "2",
             "--log-format", "json"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def events(self) -> list[dict[str, object]]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(60)
        self.log.close()


@pytest.fixture
def workers(store: RedisStore, tmp_path: Path) -> Iterator[dict[str, Worker]]:
    started: dict[str, Worker] = {}
    yield started
    for w in started.values():
        w.stop()


def wait_for(what: str, check: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_two_teams_workers_on_one_queue_run_every_job_once_none_dead(
        store: RedisStore, workers: dict[str, Worker], tmp_path: Path) -> None:
    from workers import example, maths

    url = store.settings.url or ""
    # Given team A's worker (workers.example) alone on the queue, and team B's jobs queued
    workers["a"] = Worker(url, tmp_path, "workers.example")
    b_jobs = maths.add.enqueue_many([(i, 1) for i in range(10)])
    b_jobs += maths.multiply.enqueue_many([(i, 2) for i in range(10)])
    # Then A hands B's jobs back instead of dead-lettering them
    wait_for("a bounce", lambda: any(e["event"] == "job-bounced"
                                     for e in workers["a"].events()))
    assert store.client.zcard(store.keys.dead(Q)) == 0
    # When team B's worker (workers.maths) starts, and both teams keep enqueueing
    workers["b"] = Worker(url, tmp_path, "workers.maths")
    a_jobs = example.add.enqueue_many([(i, i) for i in range(10)])
    b_jobs += maths.add.enqueue_many([(i, 100) for i in range(10)])
    # Then every job runs, once, and none is dead
    assert [j.result(timeout=60) for j in a_jobs] == [2 * i for i in range(10)]
    assert [j.result(timeout=60) for j in b_jobs] == (
        [i + 1 for i in range(10)] + [2 * i for i in range(10)] + [i + 100 for i in range(10)])
    assert store.client.zcard(store.keys.dead(Q)) == 0
    for w in workers.values():
        w.stop()
    succeeded = [e["job_id"] for w in workers.values() for e in w.events()
                 if e["event"] == "job-succeeded"]
    assert sorted(succeeded) == sorted(j.id for j in a_jobs + b_jobs)  # each exactly once
    ran_by_a = {e["task"] for e in workers["a"].events() if e["event"] == "job-succeeded"}
    assert ran_by_a == {"workers.example.add"}
