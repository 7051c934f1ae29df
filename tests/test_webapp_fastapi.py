"""The FastAPI example app, run for real through Starlette's TestClient (the ASGI app in full:
routing, body parsing, the thread pool) against our server and a burst worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

import taskq
from taskq.config import Settings
from taskq.store import RedisStore
from tests.helpers import drain
from tests.servers import free_port
from webapp.fastapi_app import create_app


@pytest.fixture
def client(settings: Settings, store: RedisStore) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    taskq.configure(None)


def test_post_enqueues_and_get_shows_the_result_once_a_worker_ran_it(client, store) -> None:
    response = client.post("/jobs", json={"task": "add", "args": [2, 3]})
    assert response.status_code == 202, response.text
    url = response.headers["Location"]
    assert url == response.json()["status_url"]
    assert client.get(url).json()["status"] == "queued"
    drain(store)
    body = client.get(url).json()
    assert (body["status"], body["result"], body["task"]) == ("done", 5, "workers.example.add")


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"json": {"task": "os.system", "args": ["rm -rf /"]}}, "unknown task"),
    ({"json": {"task": "add", "args": [1]}}, "missing a required argument"),
    ({"json": {"task": "add", "args": "1,2"}}, "args must be a list"),
    ({"content": "task=add", "headers": {"content-type": "application/x-www-form-urlencoded"}},
     "expected a JSON body"),
    ({"json": ["add", 2, 3]}, "expected a JSON body"),
])
def test_bad_posts_are_refused_with_a_reason(client, store, kwargs, says) -> None:
    response = client.post("/jobs", **kwargs)
    assert response.status_code == 400
    assert says in response.json()["error"]
    assert store.client.llen(store.keys.ready("default")) == 0


def test_unknown_job_is_404_and_bad_queue_name_400(client) -> None:
    assert client.get("/jobs/nope").status_code == 404
    assert client.get("/jobs/x?queue=no{pe}").status_code == 400


def test_a_job_of_another_queue_is_found_from_its_id_and_cancelled(client, store) -> None:
    from workers import example

    job = example.send_welcome_email.enqueue(args=["a@b.c"], queue="mail", delay=60)
    assert client.get(f"/jobs/{job.id}").json()["status"] == "scheduled"
    response = client.post(f"/jobs/{job.id}/cancel", json={"force": False})
    assert (response.status_code, response.json()["outcome"]) == (200, "cancelled")
    shown = client.get(f"/jobs/{job.id}").json()
    assert (shown["queue"], shown["status"]) == ("mail", "cancelled")


def test_redis_down_is_503(tmp_path) -> None:
    settings = Settings(url=f"redis://127.0.0.1:{free_port()}/0", home=tmp_path)
    with TestClient(create_app(settings)) as c:
        response = c.post("/jobs", json={"task": "add", "args": [1, 2]})
    taskq.configure(None)
    assert response.status_code == 503
    assert "the queue is unavailable" in response.json()["error"]
