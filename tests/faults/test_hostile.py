"""Hostile payloads (issue 8, point 8): raw LPUSHes of malformed bytes onto a ready list (and
into a dead worker's active list, for the recovery path), then real worker processes drain
them. Nothing crashes the supervisor, a child, recovery or an admin command; what cannot run
goes to dead letters at once under an id that cannot collide with a real job's record; no
running-hash entry is left behind; a real job whose id is reused ends as its own record says.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from taskq.store import RedisStore
from tests.faults import tasks
from tests.faults.conftest import ROOT, wait_until
from tests.faults.helpers import KEYS, Q, job_hash, wait_status

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

SEED = 8  # fixed: the same payloads every run
TASK = "tests.faults.tasks.record"


def valid(job_id: str, **over: object) -> dict[str, object]:
    body: dict[str, object] = {"id": job_id, "task": TASK, "queue": Q, "args": [job_id],
                               "kwargs": {}, "attempt": 1, "retries": 3, "timeout": 30,
                               "enqueued_at": 1.0e9, "eta": None, "crashes": 0,
                               "requeues": 0, "deferrals": 0, "serializer": "json", "v": 1}
    body.update(over)
    return body


def enc(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()  # ensure_ascii: \ud800 escapes


def named_shapes() -> list[bytes]:
    """The shapes the issue lists, and more of the same kind."""
    deep = b"[" * 100000 + b"]" * 100000
    return [
        deep,
        b'{"id":' + b"[" * 5000 + b"]" * 5000 + b"}",
        enc(valid("\ud800")),                                     # lone surrogate id
        enc(valid("t-timeout")).replace(b'"timeout":30', b'"timeout":1' + b"0" * 400),
        enc(valid("t-task-sur", task="tests.\udcff")),            # surrogate task name
        enc(valid("t-kw-sur", kwargs={"\ud800": 1})),             # surrogate kwarg name
        enc(valid("t-arg-sur", args=["\udfff"])),                 # surrogate argument
        enc(valid("t-serializer", task="tests.faults.tasks.flaky", serializer="yaml")),
        enc(valid("victim", task="no.such.task")),                # reuses a live job's id
        enc(valid("victim", args=[1, 2, 3, 4])),                  # same id, bad arguments
        b'{"id":"t-dup","id":"t-dup2","task":"' + TASK.encode() + b'","queue":"faults",'
        b'"args":["t-dup"],"v":1}',                               # duplicate id keys
        enc(valid("t-trunc"))[:40],                               # truncated JSON
        enc(valid("x" * 80)),                                     # id over 64 bytes
        enc(valid("bad-0123456789abcdef")),                       # the reserved prefix
        enc(valid("t-huge-enq", enqueued_at=1e308)),
        enc(valid("t-nan")).replace(b'"enqueued_at":1000000000.0', b'"enqueued_at":NaN'),
        enc(valid("t-inf")).replace(b'"timeout":30', b'"timeout":Infinity'),
        enc(valid("t-neg", attempt=-5)),
        enc(valid("t-bool", attempt=True)),
        enc(valid("t-big", retries=10**30)),
        enc(valid("t-v2", v=2)),
        enc(valid("t-pickle", serializer="pickle")),
        enc(valid("t-args", args={"a": 1})),
        enc(valid("t-unknown-field", extra=1)),
        b"\xff\xfe\x00garbage", b"", b"null", b"[]", b"42", b'"id"', b"{}",
        b'{"id":"\xc3\x28","task":"x","queue":"faults","v":1}',    # invalid UTF-8
        b'{"id":"t-' + b"a" * 200000 + b'"}',
    ]


def mutations(rng: random.Random, count: int) -> list[bytes]:
    """Random damage to a valid payload: flips, cuts, insertions, duplicated spans."""
    out = []
    for i in range(count):
        raw = bytearray(enc(valid(f"m{i}")))
        for _ in range(rng.randint(1, 4)):
            where = rng.randrange(len(raw))
            action = rng.choice(("flip", "cut", "insert", "dup", "quote"))
            if action == "flip":
                raw[where] = rng.randrange(256)
            elif action == "cut":
                del raw[where:where + rng.randint(1, 12)]
            elif action == "insert":
                raw[where:where] = bytes(rng.choice(b'{}[]",:\\0123456789eE+-.u')
                                         for _ in range(rng.randint(1, 6)))
            elif action == "dup":
                end = min(len(raw), where + rng.randint(1, 30))
                raw[where:where] = raw[where:end]
            else:
                raw[where:where] = b'\\ud8' + bytes([rng.choice(b"0123456789abcdef")]) + b"0"
        out.append(bytes(raw))
    return out


def admin(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TASKQ_HOME": str(Path(url.split(":")[-1].replace("/", "_")))}
    env.pop("TASKQ_REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "taskq", *args, "--url", url], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def assert_admin_commands_survive(url: str, client: redis.Redis) -> None:
    for args in (("stats", "--json"), ("stats",), ("workers", "--all"), ("queues",),
                 ("dead", "list", "--json"), ("dead", "list"), ("dead", "export", "--all")):
        done = admin(url, *args)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        assert "Traceback" not in done.stderr, (args, done.stderr[-2000:])
    for member in client.zrange(KEYS.dead(Q), 0, 20):
        done = admin(url, "dead", "show", member.decode(errors="replace"))
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]


def test_hostile_payloads_never_crash_a_worker_nor_touch_another_job(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    rng = random.Random(SEED)
    named = named_shapes()
    fuzzed = mutations(rng, 400)
    # Given a real job, and the hostile bytes pushed raw onto the ready list (the stats view
    # must already survive them as the oldest ready job) and into the active list of a
    # worker whose lease expired (the recovery path)
    tasks.record.enqueue(args=["victim"], job_id="victim", store=store)
    ghost = "ghost:1:dead"
    redis_client.zadd(KEYS.leases(Q), {ghost: 0})
    redis_client.lpush(KEYS.active(Q, ghost), *named[:12], *fuzzed[:50])
    for oldest in (named[0], named[2], named[14]):
        redis_client.rpush(KEYS.ready(Q), oldest)
        assert_admin_commands_survive(server.url, redis_client)
    redis_client.lpush(KEYS.ready(Q), *named, *fuzzed)

    # When a worker of two processes drains the queue (burst)
    worker = spawn(server.url, processes=2, extra=("--burst",))
    code = worker.wait(timeout=180)

    # Then nothing crashed: the supervisor exits 0, no traceback, nothing left anywhere
    log = worker.log()
    assert code == 0, log[-4000:]
    for bad in ("Traceback", "runner-crashed", "supervisor-crashed", "maintenance-failed",
                "worker-child-died"):
        assert bad not in log, (bad, log[-4000:])
    assert redis_client.llen(KEYS.ready(Q)) == 0
    assert not list(redis_client.scan_iter(KEYS.active(Q, "*")))
    assert redis_client.hlen(KEYS.running(Q)) == 0, redis_client.hgetall(KEYS.running(Q))
    # the real job ends as its own record says, once; nothing reused its record
    record = wait_status(redis_client, "victim", "done")
    assert json.loads(record["result"]) > 0
    assert records.hget(tasks.DONE, "victim") == b"1"
    assert redis_client.zscore(KEYS.dead(Q), "victim") is None
    # every named shape is unrunnable: dead at once (no retries), under reserved ids
    dead = [m.decode() for m in redis_client.zrange(KEYS.dead(Q), 0, -1)]
    assert len(dead) >= len(named) + 12
    assert all(d.startswith("bad-") for d in dead), [d for d in dead if "bad-" not in d][:5]
    for job_id in dead[:50]:
        assert job_hash(redis_client, job_id)["status"] == "dead"
    # and every admin command still answers
    assert_admin_commands_survive(server.url, redis_client)


def test_a_result_json_cannot_hold_is_dead_once_not_done(
        server, store: RedisStore, redis_client, records, spawn) -> None:
    worker = spawn(server.url)
    tasks.returns_set.enqueue(args=["set"], job_id="set", store=store)
    record = wait_status(redis_client, "set", "dead")
    assert record["reason"] == "unserializable-result"
    assert "returned a set" in record["error"]
    wait_until(lambda: worker.log().count("job-dead-lettered"), "the dead letter log")
    assert records.llen(tasks.starts_key("set")) == 1  # the work ran once: not retried
    worker.signal(15)
    assert worker.wait() == 0
