"""Helpers for the admin tests: dead jobs made through the store's own transitions (enqueue,
fetch, dead-letter or crash recovery), never by writing keys by hand; and a CLI runner."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result

from taskq.cli import main
from taskq.job import Payload, decode, new_job_id
from taskq.store import RedisStore, Release, history_entry, now_ms

CHARGE = "workers.example.charge_card"


def make_dead(store: RedisStore, *, task: str = CHARGE, queue: str = "default",
              args: list[Any] | None = None, error_type: str = "RuntimeError",
              error: str = "card declined", reason: str = "failed",
              died_at_ms: int | None = None) -> str:
    """A job that went enqueue -> fetch -> dead letters. With `died_at_ms` it dies through the
    recovery script instead, which takes the time of death as an argument (so tests can place
    deaths in time without sleeping)."""
    payload = Payload(id=new_job_id(), task=task, queue=queue, args=args or ["o-1", 100],
                      attempt=2, retries=1)
    store.enqueue([payload])
    worker = f"test:1:{payload.id[:8]}"
    store.register(worker, [queue], {"host": "test", "pid": 1})
    (delivery,) = store.fetch(queue, worker, 1)
    assert delivery.job_id == payload.id, "make_dead needs the queue's ready list empty"
    fields = {"error_type": error_type, "error": error, "reason": reason, "attempts": "2",
              "traceback": f"Traceback (most recent call last):\n{error_type}: {error}\n"}
    if died_at_ms is None:
        store.dead_letter(delivery, "dead-lettered", fields)
    else:
        release = Release(delivery.raw, delivery.raw, payload.id, "dead", died_at_ms,
                          history_entry("dead-lettered", reason=reason),
                          {**fields, "died_at": str(died_at_ms)})
        store.release(queue, worker, [release], only_if_expired=False, drop_lease=False)
    store.unregister(worker, [queue])
    return payload.id


def cli(url: str, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, [*args, "--url", url], input=input, catch_exceptions=False)


def dead_ids(store: RedisStore, queue: str = "default") -> list[str]:
    return [m.decode() for m in store.client.zrange(store.keys.dead(queue), 0, -1)]


def ready_ids(store: RedisStore, queue: str = "default") -> list[str]:
    return [decode(raw).id for raw in store.client.lrange(store.keys.ready(queue), 0, -1)]


def snapshot(client: Any) -> dict[bytes, Any]:
    """Every key with its value and whether it expires (DUMP is not stable for big hashes:
    their iteration order changes as the server rehashes them)."""
    read = {b"hash": client.hgetall, b"string": client.get, b"set": client.smembers,
            b"list": lambda k: client.lrange(k, 0, -1),
            b"zset": lambda k: client.zrange(k, 0, -1, withscores=True),
            b"stream": lambda k: client.xrange(k)}
    return {k: (read[client.type(k)](k), client.ttl(k) > 0) for k in client.scan_iter()}


def test_given_make_dead_then_the_job_is_dead_and_nowhere_else(store: RedisStore) -> None:
    job_id = make_dead(store)
    died = make_dead(store, died_at_ms=now_ms() - 5000)
    assert sorted(dead_ids(store)) == sorted([job_id, died])
    assert ready_ids(store) == []
    assert store.client.hlen(store.keys.running("default")) == 0
    assert store.job_record("default", job_id)["status"] == "dead"
    assert json.loads(store.client.lindex(store.keys.history("default", died), -1))[
        "event"] == "dead-lettered"
