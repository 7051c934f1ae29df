"""Rate and concurrency limits: the options, and the admission, release and sweep scripts
against the real server (the multi-process guarantees are in tests/faults/test_limits.py)."""

from __future__ import annotations

import time

import pytest

from taskq import ConfigurationError, task
from taskq.limits import LimitSpec, parse_rate
from taskq.store import RedisStore
from taskq.store.limits import ADMITTED, DEFERRED, FENCED, PARKED
from taskq.worker.limits import limit_of
from taskq.worker.recovery import CRASH, CrashInfo, recover_worker
from tests import limit_tasks as lt

Q = "default"


def test_rates_parse_and_bad_options_are_refused_at_decoration() -> None:
    assert parse_rate("100/m") == (100, 60.0)
    assert parse_rate("5/10s") == (5, 10.0)
    assert parse_rate("1000/hour") == (1000, 3600.0)
    assert LimitSpec(rate="50/s").interval_ms == 20
    for bad in ("100", "0/s", "10/y", "fast"):
        with pytest.raises(ConfigurationError):
            parse_rate(bad)
    with pytest.raises(ConfigurationError):
        LimitSpec(concurrency=0)
    with pytest.raises(ConfigurationError):
        LimitSpec(key="customer")  # a key with nothing to limit
    with pytest.raises(ConfigurationError, match="not a parameter"):
        @task(concurrency=2, limit_key="tenant", name="tests.limits.bad_key")
        def bad_key(customer: str) -> None: ...


def test_per_key_limits_are_named_by_the_keys_value(store: RedisStore) -> None:
    store.register("w1", [lt.QUEUE], {})
    lt.per_customer.enqueue(args=["acme", 0.0], store=store)
    (d,) = store.fetch(lt.QUEUE, "w1", 1)
    limit = limit_of(d)
    assert limit is not None
    assert (limit.name, limit.concurrency) == (f"{lt.per_customer.name}[customer=acme]", 2)


def test_concurrency_parks_the_extra_job_and_a_release_wakes_it(store: RedisStore) -> None:
    # Given a task limited to one at a time, one job running under w1
    for w in ("w1", "w2"):
        store.register(w, [Q], {})
    first, second = lt.solo_local.delay(1), lt.solo_local.delay(2)
    (d1,) = store.fetch(Q, "w1", 1)
    (d2,) = store.fetch(Q, "w2", 1)
    limit = limit_of(d1)
    assert limit is not None and d1.job_id == first.id
    assert store.acquire(d1, limit).verdict == ADMITTED

    # When w2 asks for the second: it is parked, not failed, and no longer held by w2
    assert store.acquire(d2, limit).verdict == PARKED
    assert store.client.llen(store.keys.active(Q, "w2")) == 0
    assert store.client.lrange(store.keys.limit_parked(Q, limit.name), 0, -1) == [d2.raw]
    record = store.job_record(Q, second.id)
    assert (record["status"], record["held"]) == ("queued", f"concurrency {limit.name}")
    # and a release while the first still runs wakes nothing
    assert store.release_permits(Q, limit.name, 1) == 0

    # Then the first ends: the release puts the parked job first in line, and it is admitted
    assert store.ack(d1, {"result": "1"})
    assert store.release_permits(Q, limit.name, 1) == 1
    (again,) = store.fetch(Q, "w2", 1)
    assert again.job_id == second.id
    assert store.acquire(again, limit).verdict == ADMITTED
    assert "held" not in store.job_record(Q, second.id)
    assert not store.client.hexists(store.keys.limits(Q), limit.name)


def test_a_crashed_workers_permit_comes_back_through_recovery(store: RedisStore) -> None:
    for w in ("host:1:w1", "w2"):
        store.register(w, [Q], {})
    lt.solo_local.delay(1)
    lt.solo_local.delay(2)
    (d1,) = store.fetch(Q, "host:1:w1", 1)
    (d2,) = store.fetch(Q, "w2", 1)
    limit = limit_of(d1)
    assert limit is not None
    assert store.acquire(d1, limit).verdict == ADMITTED
    assert store.acquire(d2, limit).verdict == PARKED
    # The holder dies; the sweep finds nothing to free while its job is still held
    assert store.sweep_limits(Q) == 0
    recover_worker(store, Q, "host:1:w1", CRASH,
                   crash=CrashInfo("host", 1, "SIGKILL", "killed by SIGKILL"))
    # Recovery took its job back: the permit is stale, and the sweep wakes the parked job
    assert store.sweep_limits(Q) == 1
    assert store.client.llen(store.keys.ready(Q)) == 2


def test_a_write_from_a_worker_that_no_longer_holds_the_job_is_fenced(
        store: RedisStore) -> None:
    for w in ("w1", "w2"):
        store.register(w, [Q], {})
    lt.solo_local.delay(1)
    lt.solo_local.delay(2)
    (d1,) = store.fetch(Q, "w1", 1)
    (d2,) = store.fetch(Q, "w2", 1)
    limit = limit_of(d1)
    assert limit is not None
    store.acquire(d1, limit)
    store.client.delete(store.keys.active(Q, "w2"))  # as if recovered meanwhile
    assert store.acquire(d2, limit).verdict == FENCED


def test_the_rate_defers_to_reserved_slots_and_a_reserved_job_is_admitted(
        store: RedisStore) -> None:
    store.register("w1", [Q], {})
    jobs = [lt.rated_local.delay(i) for i in range(3)]  # 10/s: one start every 100 ms
    deliveries = store.fetch(Q, "w1", 3)
    limit = limit_of(deliveries[0])
    assert limit is not None and limit.interval_ms == 100
    verdicts = [store.acquire(d, limit) for d in deliveries]
    assert [v.verdict for v in verdicts] == [ADMITTED, DEFERRED, DEFERRED]
    slots = [v.due for v in verdicts[1:]]
    assert slots[0] is not None and slots[1] is not None
    assert round((slots[1] - slots[0]) * 1000) == 100
    record = store.job_record(Q, jobs[2].id)
    assert record["rate_slot"] == str(round(slots[1] * 1000))
    assert store.client.zcard(store.keys.scheduled(Q)) == 2

    # When their slots come they are promoted, and admitted without taking new slots
    deadline = time.monotonic() + 10
    while store.client.zcard(store.keys.scheduled(Q)) and time.monotonic() < deadline:
        store.promote_due(Q)
        time.sleep(0.02)
    back = store.fetch(Q, "w1", 2)
    assert [store.acquire(d, limit).verdict for d in back] == [ADMITTED, ADMITTED]
