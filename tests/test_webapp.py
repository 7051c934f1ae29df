"""The example Flask app: POST enqueues a job from workers/, GET shows its status and result."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

import taskq
from taskq.config import Settings
from taskq.store import RedisStore
from tests.helpers import drain
from tests.servers import free_port
from tests.test_admin_support import make_dead
from webapp import create_app


@pytest.fixture
def client(settings: Settings, store: RedisStore) -> Iterator[FlaskClient]:
    app = create_app(settings)
    app.config["TESTING"] = True
    with app.test_client() as c:
        yield c
    taskq.configure(None)


def post(client: FlaskClient, body: dict[str, Any]) -> Any:
    return client.post("/jobs", json=body)


def test_post_enqueues_and_get_shows_the_result_once_a_worker_ran_it(client, store) -> None:
    response = post(client, {"task": "add", "args": [2, 3]})
    assert response.status_code == 202
    body = response.get_json()
    assert response.headers["Location"] == body["status_url"]
    assert client.get(body["status_url"]).get_json()["status"] == "queued"
    drain(store)
    status = client.get(body["status_url"]).get_json()
    assert (status["status"], status["result"], status["task"]) == (
        "done", 5, "workers.example.add")


def test_get_shows_the_error_of_a_dead_job(client, store) -> None:
    job_id = make_dead(store, error="card declined for order 9")
    status = client.get(f"/jobs/{job_id}").get_json()
    assert (status["status"], status["error"]) == ("dead", "card declined for order 9")


def test_a_failed_attempt_shows_as_scheduled_for_its_retry(client, store) -> None:
    url = post(client, {"task": "charge_card", "kwargs": {"order_id": "o-5",
                                                         "amount_cents": 5}}).get_json()[
        "status_url"]
    drain(store)  # attempt 1 fails: a retry is scheduled, not run in this burst
    assert client.get(url).get_json()["status"] == "scheduled"


@pytest.mark.parametrize(("body", "says"), [
    ({"task": "os.system", "args": ["rm -rf /"]}, "unknown task"),
    ({"task": "add", "args": [1]}, "missing a required argument"),
    ({"task": "add", "args": "1,2"}, "args must be a list"),
])
def test_bad_posts_are_refused_with_a_reason(client, store, body, says) -> None:
    response = post(client, body)
    assert response.status_code == 400
    assert says in response.get_json()["error"]
    assert store.client.llen(store.keys.ready("default")) == 0


@pytest.mark.parametrize(("data", "content_type"), [
    ("task=add&args=2,3", "application/x-www-form-urlencoded"),  # a form, not JSON
    ('{"task": "add"', "application/json"),  # broken JSON
    ('["add", 2, 3]', "application/json"),  # JSON, but not an object
    ('{"task": "add", "args": [2, 3]}', "text/plain"),  # JSON without its content type
])
def test_a_body_that_is_not_a_json_object_says_so(client, store, data, content_type) -> None:
    response = client.post("/jobs", data=data, content_type=content_type)
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("expected a JSON body")
    assert store.client.llen(store.keys.ready("default")) == 0


def test_unknown_job_is_404_and_bad_queue_name_400(client) -> None:
    assert client.get("/jobs/nope").status_code == 404
    assert client.get("/jobs/x?queue=no{pe}").status_code == 400


def test_a_job_of_another_queue_is_found_from_its_id_and_cancelled(client, store) -> None:
    from workers import example

    job = example.send_welcome_email.enqueue(args=["a@b.c"], queue="mail", delay=60)
    assert job.queue == "mail" and job.id.endswith("@mail")
    assert client.get(f"/jobs/{job.id}").get_json()["status"] == "scheduled"
    response = client.post(f"/jobs/{job.id}/cancel")
    assert (response.status_code, response.get_json()["outcome"]) == (200, "cancelled")
    shown = client.get(f"/jobs/{job.id}").get_json()
    assert (shown["queue"], shown["status"]) == ("mail", "cancelled")
    assert client.post(f"/jobs/{job.id}/cancel").get_json()["outcome"] == "cancelled"


@pytest.mark.parametrize("module", ["__init__.py", "fastapi_app.py"])
def test_the_web_apps_use_only_the_public_api(module: str) -> None:
    from pathlib import Path

    source = (Path(__file__).resolve().parents[1] / "webapp" / module).read_text()
    imports = [line for line in source.splitlines()
               if line.startswith(("from taskq", "import taskq"))]
    assert imports and all(line in ("import taskq", "from taskq import (") for line in imports)


def test_redis_down_is_503(tmp_path) -> None:
    app = create_app(Settings(url=f"redis://127.0.0.1:{free_port()}/0", home=tmp_path))
    response = app.test_client().post("/jobs", json={"task": "add", "args": [1, 2]})
    taskq.configure(None)
    assert response.status_code == 503
    assert "unavailable" in response.get_json()["error"]
