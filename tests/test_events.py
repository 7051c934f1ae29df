"""The event stream: every state change appended by the script that makes it, read back in
order, resumed from a cursor, bounded, and told when trimmed past a reader."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from taskq.admin.deadletters import DeadLetters
from taskq.cli import main
from taskq.errors import EventCursorError, EventsTrimmedError
from taskq.events import START, Cursor, EventFeed, since_id
from taskq.store import RedisStore
from taskq.worker.recovery import SHUTDOWN, recover_worker
from tests import sample_tasks as t
from tests.helpers import drain

Q = "default"


def story(store: RedisStore, job_id: str, queue: str = Q) -> list[str]:
    feed = EventFeed(store, (queue,), job=job_id)
    return [e.event for e in feed.read(Cursor())]


def test_a_success_tells_enqueued_started_succeeded_in_order(store: RedisStore) -> None:
    job = t.add.delay(1, 2)
    drain(store)
    events = EventFeed(store, (Q,), job=job.id).read(Cursor())
    assert [e.event for e in events] == ["enqueued", "started", "succeeded"]
    assert events[0].fields["task"] == "tests.sample_tasks.add"
    assert events[1].fields["worker"] == events[2].fields["worker"] == "test:1:w"


def test_a_failure_tells_each_retry_then_dead(store: RedisStore) -> None:
    job = t.boom.delay("no")
    for _ in range(3):  # each attempt: run it, then make its retry due at once
        drain(store)
        for member in store.client.zrange(store.keys.scheduled(Q), 0, -1):
            store.client.zadd(store.keys.scheduled(Q), {member: 0})
        store.promote_due(Q)
    events = story(store, job.id)
    assert events[0] == "enqueued" and events[-1] == "dead"
    assert events.count("retrying") == 2 and events.count("started") == 3
    dead = EventFeed(store, (Q,), job=job.id).read(Cursor())[-1]
    assert json.loads(dead.fields["detail"])["attempt"] == 3


def test_batch_enqueue_and_a_scheduled_job_each_tell_once(store: RedisStore) -> None:
    jobs = t.add.enqueue_many([(1, 1), (2, 2), (3, 3)])
    later = t.add.enqueue(args=[1, 1], delay=3600)
    events = EventFeed(store, (Q,)).read(Cursor())
    assert [(e.event, e.job) for e in events] == [
        *[("enqueued", j.id) for j in jobs], ("scheduled", later.id)]


def test_a_refused_duplicate_id_tells_nothing(store: RedisStore) -> None:
    t.add.enqueue(args=[1, 1], job_id="same")
    with pytest.raises(Exception, match="same"):
        t.add.enqueue(args=[1, 1], job_id="same")
    assert story(store, "same") == ["enqueued"]


def test_recovery_requeue_and_purge_are_told(store: RedisStore) -> None:
    job = t.add.delay(1, 1)
    store.register("w:1:a", [Q], {})
    store.fetch(Q, "w:1:a")
    recover_worker(store, Q, "w:1:a", SHUTDOWN)
    recovered = EventFeed(store, (Q,), job=job.id).read(Cursor())[-1]
    assert (recovered.event, recovered.fields["to"]) == ("recovered", "ready")
    dead_job = t.boom_once.delay("x")
    drain(store)
    letters = DeadLetters(store)
    (dead,) = letters.by_ids([dead_job.id])
    assert letters.requeue(dead) == "requeued"
    drain(store)
    (dead,) = letters.by_ids([dead_job.id])
    assert letters.purge(dead)
    assert story(store, dead_job.id) == ["enqueued", "started", "dead", "requeued", "started",
                                         "dead", "purged"]


def test_promotion_of_a_due_job_is_told(store: RedisStore) -> None:
    job = t.add.enqueue(args=[1, 1], eta=1.0)  # due long ago: scheduled only if in the future
    store.client.zadd(store.keys.scheduled(Q), {store.client.lpop(store.keys.ready(Q)): 1})
    store.promote_due(Q)
    assert story(store, job.id)[-1] == "promoted"


def test_events_off_writes_no_stream(store: RedisStore) -> None:
    quiet = RedisStore(store.client, replace(store.settings, events_maxlen=0))
    t.add.enqueue(args=[1, 1], store=quiet)
    assert not store.client.exists(store.keys.events(Q))


def test_the_stream_is_bounded_by_length_and_by_age(store: RedisStore) -> None:
    short = RedisStore(store.client, replace(store.settings, events_maxlen=10))
    t.add.enqueue_many([(i, i) for i in range(1000)], store=short)
    assert 10 <= store.client.xlen(store.keys.events(Q)) < 1000
    store.client.delete(store.keys.events(Q))
    young = RedisStore(store.client, replace(store.settings, events_max_age=0.001))
    for chunk in range(5):
        t.add.enqueue_many([(i, chunk) for i in range(300)], store=young)
    assert store.client.xlen(store.keys.events(Q)) < 1500


def test_a_cursor_resumes_exactly_after_the_last_event_seen(store: RedisStore) -> None:
    t.add.delay(1, 1)
    t.email.delay("a@b.c")
    feed = EventFeed(store)
    cursor = Cursor()
    first = feed.read(cursor)
    assert {e.queue for e in first} == {"default", "emails"}
    resumed = Cursor.parse(cursor.encode())
    more = [t.add.delay(2, 2).id, t.email.delay("d@e.f").id]
    assert sorted(e.job for e in feed.read(resumed)) == sorted(more)
    assert feed.read(resumed) == []


def test_a_cursor_made_now_skips_the_past_and_a_new_queue_is_read_from_its_start(
        store: RedisStore) -> None:
    t.add.delay(1, 1)
    feed = EventFeed(store)
    cursor = feed.now()
    new = t.email.delay("a@b.c")
    events = []
    for _ in range(10):  # the new queue is noticed within QUEUE_REFRESH seconds
        events += feed.read(cursor, block=1)
        if events:
            break
    assert [(e.queue, e.job) for e in events] == [("emails", new.id)]


def test_a_trimmed_stream_is_reported_not_skipped(store: RedisStore) -> None:
    t.add.enqueue_many([(i, i) for i in range(300)])
    feed = EventFeed(store, (Q,))
    cursor = Cursor()
    feed.read(cursor, count=5)
    assert feed.gaps(cursor) == []
    # as a busy queue's cap would:
    store.client.xtrim(store.keys.events(Q), maxlen=10, approximate=False)
    assert feed.gaps(cursor) == [Q]
    with pytest.raises(EventsTrimmedError, match="trimmed"):
        next(feed.follow(cursor))
    assert feed.gaps(feed.now()) == []


def test_cursor_and_since_parsing() -> None:
    assert Cursor.parse("default=1-0,emails:x=5-2").positions == {"default": "1-0",
                                                                   "emails:x": "5-2"}
    with pytest.raises(EventCursorError):
        Cursor.parse("default=yesterday")
    assert since_id("1700000000000-3") == "1700000000000-3"
    assert since_id("0") == START
    assert since_id("1m", now=120.0) == "59999-18446744073709551615"
    with pytest.raises(EventCursorError):
        since_id("soon")


def test_job_events_sync_and_async_follow_until_the_end(store: RedisStore) -> None:
    job = t.add.delay(1, 2)
    drain(store)
    assert [e.event for e in job.events()] == ["enqueued", "started", "succeeded"]
    assert [e.event for e in job.events(follow=True)][-1] == "succeeded"

    async def collect() -> list[str]:
        return [e.event async for e in job.aevents(follow=True)]

    assert asyncio.run(collect()) == ["enqueued", "started", "succeeded"]


def test_cli_events_json_filters_by_job(store: RedisStore, settings) -> None:
    job = t.add.delay(1, 2)
    t.add.delay(3, 4)
    drain(store)
    result = CliRunner().invoke(main, ["events", "--url", settings.url, "--job", job.id,
                                       "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(e["event"], e["job"]) for e in lines] == [
        ("enqueued", job.id), ("started", job.id), ("succeeded", job.id)]
    follow = CliRunner().invoke(main, ["events", "--url", settings.url, "--job", job.id,
                                       "--follow", "--since", "0"])
    assert follow.exit_code == 0 and "succeeded" in follow.output


def test_every_queue_key_shares_one_slot_including_events() -> None:
    from taskq.keys import Keys

    k = Keys()
    assert k.events_beside(k.ready("a:b")) == k.events("a:b") == "taskq:{a:b}:events"
    assert k.events_beside(k.job("q", "{odd}")) == k.events("q")
