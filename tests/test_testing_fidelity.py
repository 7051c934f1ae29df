"""Fidelity of the in-memory backend: one scenario list (enqueue, dedupe, fetch, blocking
fetch and claim, ack, retry, dead, promote, requeue, recover, result wait) run through the
real RedisStore against fakeredis and against our real server; both must leave the same keys,
values and TTL kinds, and give the same replies. Times and clocks are normalised; ids are
fixed. Where fakeredis differs from Redis, docs/testing.md says so."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from taskq.admin.deadletters import DeadLetters
from taskq.job import Payload
from taskq.store import RedisStore
from taskq.testing import InMemoryBackend
from taskq.worker.recovery import CRASH, CrashInfo, recover_worker

Q = "fidelity"
W = "host:1:w"
T0 = 1_700_000_000.25  # enqueue stamps (normalised anyway; fixed so that tokens match)


def payload(job_id: str, **extra: Any) -> Payload:
    fields: dict[str, Any] = {"enqueued_at": T0, **extra}
    return Payload(id=job_id, task="tests.sample_tasks.add", queue=Q, args=[1, 2], **fields)


def scenarios(store: RedisStore) -> list[Any]:
    """Every step's reply, in order; the state it leaves is compared separately."""
    replies: list[Any] = []
    say = replies.append
    store.register(W, [Q], {"host": "h", "pid": 1})
    ok, retried, dead, later = (payload("j-ok"), payload("j-retry", retries=1),
                                payload("j-dead", retries=0),
                                payload("j-later", eta=time.time() + 3600))
    say(store.enqueue([ok]))                                      # enqueue, one job
    say(store.enqueue([retried, dead, later]))                    # enqueue_many + schedule
    say(store.enqueue([ok]))                                      # same enqueue again: 1
    say(store.enqueue([payload("j-ok", enqueued_at=T0 + 1)]))     # dedupe: 'queued'
    first = store.fetch(Q, W, 2)                                  # fetch
    say([d.job_id for d in first])
    blocked, _ = store.fetch_blocking(Q, W, 1.0)                  # guard, BLMOVE, claim
    assert blocked is not None
    say(blocked.job_id)
    held = {d.job_id: d for d in [*first, blocked]}
    say(store.watch(Q, "j-ok")["status"])                         # a result waiter
    say(store.ack(held["j-ok"], {"result": "3", "finished_at": T0, "worker": W}))
    say(store.retry(held["j-retry"], retried.next_attempt(), int(T0 * 1000) + 5, True,
                    "retrying", {"error": "boom", "error_type": "ValueError"}))
    say(store.dead_letter(held["j-dead"], "dead-lettered",
                          {"reason": "failed", "error": "boom", "error_type": "ValueError"}))
    say(store.ack(held["j-dead"], {"result": "0"}))               # fenced: 0
    say(store.set_progress(Q, "j-later", 0.5,                     # cjson.encode in Lua,
                           {"empty": {}, "list": [], "n": 1}))    # empty tables included
    say(store.promote_due(Q))                                     # promote (j-retry due)
    say(store.promote_due(Q, now=time.time() + 7200)[0])          # promote j-later
    (job,) = DeadLetters(store).by_ids(["j-dead"], [Q])
    say(DeadLetters(store).requeue(job))                          # requeue from dead
    say([d.job_id for d in store.fetch(Q, W, 10)])
    say(recover_worker(store, Q, W, CRASH,                        # recover (cjson in Lua)
                       crash=CrashInfo("h", 1, "SIGKILL", "killed by SIGKILL")))
    say(store.wait_for_end(Q, "j-ok", 0.1))                       # BLMOVE on notify list
    return replies


_TIME = re.compile(rb"\d{8,}(\.\d+)?")  # epoch seconds or ms, minutes since the epoch


# Hash fields whose JSON a script builds with cjson.encode: the order of an object's keys is
# Lua's table order, which differs between Redis's Lua and fakeredis's (lupa), and means
# nothing; their values must match (empty tables as {} included: taskq.testing patches that).
LUA_JSON = {b"meta"}


def sorted_json(value: bytes) -> bytes:
    return json.dumps(json.loads(value), sort_keys=True).encode()


def normal(value: bytes) -> bytes:
    return _TIME.sub(b"<t>", value)


def state(store: RedisStore) -> dict[str, Any]:
    """Every key: its type, value (times normalised) and whether it expires."""
    c = store.client
    out: dict[str, Any] = {}
    for key in sorted(c.scan_iter("*")):  # every primary on a Cluster
        kind = c.type(key).decode()
        if kind == "string":
            value: Any = normal(c.get(key))
        elif kind == "list":
            value = [normal(v) for v in c.lrange(key, 0, -1)]
        elif kind == "hash":
            value = {k: normal(sorted_json(v) if k in LUA_JSON else v)
                     for k, v in sorted(c.hgetall(key).items())}
        elif kind == "zset":
            value = [(normal(m), normal(str(int(s)).encode()))
                     for m, s in c.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":  # the events: entry ids are times, the fields must match
            value = [{k: normal(v) for k, v in sorted(f.items())} for _, f in c.xrange(key)]
        else:
            value = sorted(normal(m) for m in c.smembers(key))
        out[normal(key).decode()] = (kind, value, c.ttl(key) > 0)
    return out


def normal_replies(replies: list[Any]) -> list[Any]:
    return [r if not isinstance(r, tuple) else tuple(
        None if isinstance(x, float) else x for x in r) for r in replies]


def test_fakeredis_and_the_real_server_end_in_the_same_state(store: RedisStore) -> None:
    fake = InMemoryBackend().store
    real_replies, fake_replies = scenarios(store), scenarios(fake)
    assert normal_replies(fake_replies) == normal_replies(real_replies)
    real, faked = state(store), state(fake)
    assert sorted(faked) == sorted(real)
    for key in real:
        assert faked[key] == real[key], key


def test_the_scenarios_leave_what_they_should(store: RedisStore) -> None:
    """The comparison is worth something only if the scenarios did something."""
    replies = scenarios(store)
    assert replies[:4] == [[1], [1, 1, 1], [1], ["queued"]]
    assert replies[-3:] == [["j-retry", "j-later", "j-dead"], 3, True]
    kinds = {key.split(":")[2] for key in state(store) if key.startswith("taskq:{")}
    assert kinds >= {"job", "history", "count", "notify", "ready"}


# What fakeredis's Lua lacks (see docs/testing.md); a script using it would break the
# in-memory backend that users test with.
MISSING_IN_FAKEREDIS = re.compile(r"\b(bit|cmsgpack|struct)\.|redis\.(sha1hex|replicate_commands)")


def test_no_script_uses_what_fakeredis_lacks() -> None:
    from importlib import resources

    lua = resources.files("taskq").joinpath("lua")
    users = {f.name: MISSING_IN_FAKEREDIS.findall(f.read_text())
             for f in lua.iterdir() if f.name.endswith(".lua")}
    assert users and not {name: found for name, found in users.items() if found}
