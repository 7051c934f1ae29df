"""Example web app: a POST enqueues a job from workers/, a GET shows its status and result.

Run it with `flask --app webapp run` (or the Procfile's `web` process) next to
`taskq worker workers.example`. Both read TASKQ_REDIS_URL / REDIS_URL; without either they
share the embedded server in .taskq/.

    curl -X POST localhost:5000/jobs -H 'content-type: application/json' \
         -d '{"task": "add", "args": [2, 3]}'
    curl localhost:5000/jobs/default/<id>
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request, url_for

from taskq import (
    BadArgumentsError,
    ConfigurationError,
    Job,
    JobNotFoundError,
    Settings,
    StoreError,
    Task,
)
from taskq.connection import connect
from taskq.keys import check_queue_name
from taskq.store import RedisStore
from workers import example

# Only these tasks may be started from the web: a request must never name an arbitrary task.
WEB_TASKS: dict[str, Task[Any, Any]] = {
    "add": example.add,
    "resize_image": example.resize_image,
    "charge_card": example.charge_card,
    "send_welcome_email": example.send_welcome_email,
}


views = Blueprint("jobs", __name__)


def create_app(settings: Settings | None = None) -> Flask:
    """The app factory (`flask --app webapp` finds it). Settings default to the environment,
    read here rather than at import time; Redis is first contacted on the first request."""
    app = Flask(__name__)
    app.config["TASKQ_SETTINGS"] = settings or Settings.from_env()
    app.extensions["taskq_store"] = None
    app.register_blueprint(views)
    return app


def store() -> RedisStore:
    """One store (one connection pool) per app, built on first use."""
    if current_app.extensions["taskq_store"] is None:
        cfg = current_app.config["TASKQ_SETTINGS"]
        current_app.extensions["taskq_store"] = RedisStore(connect(cfg), cfg)
    return current_app.extensions["taskq_store"]  # type: ignore[no-any-return]


@views.get("/")
def index() -> Any:
    return jsonify(tasks=sorted(WEB_TASKS), enqueue="POST /jobs {task, args, kwargs}",
                   status="GET /jobs/<queue>/<id>")


@views.post("/jobs")
def enqueue() -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="expected a JSON body such as {\"task\": \"add\", \"args\": [2, 3]} "
                             "with content-type: application/json"), 400
    task = WEB_TASKS.get(str(body.get("task")))
    if task is None:
        return jsonify(error=f"unknown task {body.get('task')!r}; one of {sorted(WEB_TASKS)}"), 400
    args, kwargs = body.get("args", []), body.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return jsonify(error="args must be a list and kwargs an object"), 400
    try:
        job = task.enqueue(args=args, kwargs=kwargs, store=store())
    except BadArgumentsError as exc:
        return jsonify(error=str(exc)), 400
    location = url_for("jobs.status", queue=job.queue, job_id=job.id)
    return jsonify(id=job.id, queue=job.queue, status_url=location), 202, {"Location": location}


@views.get("/jobs/<queue>/<job_id>")
def status(queue: str, job_id: str) -> Any:
    try:
        record = Job(job_id, check_queue_name(queue), store()).refresh()
    except ConfigurationError as exc:
        return jsonify(error=str(exc)), 400
    except JobNotFoundError as exc:
        return jsonify(error=str(exc)), 404
    out: dict[str, Any] = {"id": job_id, "queue": queue, "status": record["status"],
                           "task": record.get("task")}
    if record["status"] == "done":
        out["result"] = json.loads(record.get("result", "null"))
    elif record["status"] == "dead":
        out["error"] = record.get("error") or record.get("reason")
    return jsonify(out)


@views.app_errorhandler(StoreError)
def redis_down(exc: StoreError) -> Any:
    return jsonify(error=f"the queue is unavailable: {exc}"), 503
