"""The web app without a browser: push protocol (hello, resume, reset), actions behind the
token, CSRF guards, read-only, metrics, and no secret in what it serves."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from taskq.config import Settings
from taskq.connection import connect_async
from taskq.events import Cursor, EventFeed
from taskq.store import RedisStore
from taskq.web.app import create_app
from taskq.web.hub import Hub, Scope
from taskq.web.push import messages
from tests import sample_tasks as t
from tests.helpers import drain

TOKEN = "tok-123"


def take(store: RedisStore, scope: Scope, resume: str | None, n: int) -> list[dict[str, Any]]:
    """The first n messages (idle and cursor ones left out) a subscriber would get."""
    async def run() -> list[dict[str, Any]]:
        client = connect_async(store.settings.url or "", store.settings)
        hub = Hub(store, client, None, True)
        out: list[dict[str, Any]] = []
        gen = messages(hub, scope, resume)
        try:
            async for message in gen:
                if message["type"] not in ("idle", "cursor"):
                    out.append(message)
                if len(out) == n:
                    break
        finally:
            await gen.aclose()
            await client.aclose()
        return out

    return asyncio.run(asyncio.wait_for(run(), 60))


def test_hello_then_each_event_once_and_a_resume_gets_exactly_the_rest(store: RedisStore
                                                                        ) -> None:
    hello = take(store, Scope(), None, 1)[0]
    assert hello["type"] == "hello" and "queues" in hello["snapshot"]
    jobs = [t.add.delay(i, i) for i in range(3)]
    drain(store)
    got = take(store, Scope(), hello["cursor"], 10)
    assert got[0]["type"] == "resumed"
    events = [m for m in got if m["type"] == "event"]
    kept = EventFeed(store, ("default",)).read(Cursor.parse(hello["cursor"]))
    assert [m["event"]["id"] for m in events] == [e.id for e in kept]
    assert {m["event"]["job"] for m in events} == {j.id for j in jobs}
    # resuming from the cursor of the 4th event returns the 5th onwards, once each
    middle = events[3]["cursor"]
    again = [m for m in take(store, Scope(), middle, 6) if m["type"] == "event"]
    assert [m["event"]["id"] for m in again] == [m["event"]["id"] for m in events[4:]]


def test_a_job_scope_starts_from_its_story_and_ends_with_its_events(store: RedisStore) -> None:
    job = t.add.delay(1, 2)
    hello = take(store, Scope(("default",), job.id), None, 1)[0]
    assert hello["snapshot"]["job"]["id"] == job.id
    t.add.delay(5, 5)  # another job's events are not sent
    drain(store)
    got = take(store, Scope(("default",), job.id), hello["cursor"], 3)
    assert [m["event"]["event"] for m in got[1:]] == ["started", "succeeded"]


def test_a_cursor_trimmed_past_gets_reset_with_a_fresh_snapshot(store: RedisStore) -> None:
    hello = take(store, Scope(("default",)), None, 1)[0]
    t.add.enqueue_many([(i, i) for i in range(200)])
    cursor = take(store, Scope(("default",)), hello["cursor"], 3)[-1]["cursor"]
    store.client.xtrim(store.keys.events("default"), maxlen=5, approximate=False)
    (reset,) = take(store, Scope(("default",)), cursor, 1)
    assert reset["type"] == "reset" and reset["queues"] == ["default"]
    assert reset["snapshot"]["queues"][0]["ready"] == 200


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, token=TOKEN)) as c:
        yield c


def dead_job(store: RedisStore) -> str:
    job = t.boom_once.delay("<script>x</script>")
    drain(store)
    return job.id


def test_actions_need_the_token_a_json_body_and_no_foreign_origin(
        client: TestClient, store: RedisStore) -> None:
    job_id = dead_job(store)
    body = {"ids": [job_id]}
    assert client.post("/api/dead/requeue", json=body).status_code == 401
    assert client.post("/api/dead/requeue", json=body,
                       headers={"X-Taskq-Token": "wrong"}).status_code == 401
    assert client.post("/api/dead/requeue", json=body, headers={
        "X-Taskq-Token": TOKEN, "Origin": "http://evil.example"}).status_code == 403
    assert client.post("/api/dead/requeue", data={"ids": job_id}, headers={
        "X-Taskq-Token": TOKEN}).status_code == 415
    assert store.job_record("default", job_id)["status"] == "dead"
    ok = client.post("/api/dead/requeue", json=body, headers={"X-Taskq-Token": TOKEN})
    assert ok.json() == {"results": {job_id: "requeued"}}
    assert store.job_record("default", job_id)["status"] == "queued"


def test_read_only_refuses_even_with_the_token(settings: Settings, store: RedisStore) -> None:
    job_id = dead_job(store)
    with TestClient(create_app(settings, token=TOKEN, read_only=True)) as c:
        refused = c.post("/api/dead/purge", json={"ids": [job_id]},
                         headers={"X-Taskq-Token": TOKEN})
        assert refused.status_code == 403 and "read-only" in refused.json()["error"]
        assert c.get("/api/overview").json()["actions"] is False
    assert store.job_record("default", job_id)["status"] == "dead"


def test_pages_carry_a_strict_csp_and_the_api_lists_dead_jobs(client: TestClient,
                                                               store: RedisStore) -> None:
    job_id = dead_job(store)
    page = client.get("/dead")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>x" not in page.text  # data never goes into the HTML shell
    dead = client.get("/api/dead", params={"task": "boom_once"}).json()["dead"]
    assert [d["id"] for d in dead] == [job_id]
    assert client.get("/api/dead", params={"since": "nonsense"}).status_code == 400
    assert client.get(f"/api/jobs/{job_id}").json()["payload"]["args"] == ["<script>x</script>"]


def test_metrics_show_each_queue(client: TestClient, store: RedisStore) -> None:
    t.add.enqueue_many([(1, 1), (2, 2)])
    text = client.get("/metrics").text
    assert 'taskq_queue_ready{queue="default"} 2.0' in text
    assert "taskq_workers 0.0" in text


def test_websocket_subscribe_then_resume(client: TestClient, store: RedisStore) -> None:
    with client.websocket_connect("/events/ws?queue=default") as ws:
        ws.send_json({"type": "subscribe"})
        hello = ws.receive_json()
        job = t.add.delay(1, 1)
        event = ws.receive_json()
        assert (event["type"], event["event"]["job"]) == ("event", job.id)
    drain(store)
    with client.websocket_connect("/events/ws?queue=default") as ws:
        ws.send_json({"type": "resume", "cursor": event["cursor"]})
        assert ws.receive_json()["type"] == "resumed"
        assert [ws.receive_json()["event"]["event"] for _ in range(2)] == ["started",
                                                                           "succeeded"]
    assert hello["type"] == "hello"


@pytest.mark.single_only("sets an ACL user on one server")
def test_no_password_is_served(server: Any, store: RedisStore, tmp_path: Any) -> None:
    admin = redis.Redis.from_url(server.url)
    admin.acl_setuser("webtester", enabled=True, passwords=["+s3cr3t-pw"], keys=["*"],
                      commands=["+@all"], channels=["*"])
    try:
        url = server.url.replace("redis://", "redis://webtester:s3cr3t-pw@")
        settings = replace(store.settings, url=url)
        with TestClient(create_app(settings, token=TOKEN)) as c:
            served = c.get("/api/overview").text + c.get("/").text + c.get("/metrics").text
        assert "s3cr3t-pw" not in served and "webtester:***@" in served
    finally:
        admin.acl_deluser("webtester")
        admin.close()


def test_sse_resumes_from_the_last_event_id_header(client: TestClient, store: RedisStore
                                                   ) -> None:
    t.add.delay(1, 1)
    cursor = EventFeed(store, ("default",)).now().encode()
    job = t.add.delay(2, 2)
    with client.stream("GET", "/events/sse?queue=default",
                       headers={"Last-Event-ID": cursor}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = []
        for line in response.iter_lines():
            lines.append(line)
            if line.startswith("data:") and job.id in line:
                break
    assert "event: resumed" in lines and f"id: {cursor}" in lines
    event_ids = [line for line in lines if line.startswith("id: ")]
    assert event_ids[-1] != f"id: {cursor}"  # the event's own cursor, to resume after it
