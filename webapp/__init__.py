"""Example web app: a POST enqueues a job from workers/, a GET shows its status and result.

Run it with `flask --app webapp run` (or the Procfile's `web` process) next to
`taskq worker workers.example`. Both read TASKQ_REDIS_URL / REDIS_URL; without either they
share the embedded server in .taskq/.

    curl -X POST localhost:5000/jobs -H 'content-type: application/json' \
         -d '{"task": "add", "args": [2, 3]}'
    curl localhost:5000/jobs/<id>
    curl -X POST localhost:5000/jobs/<id>/cancel -d '{"force": true}' \
         -H 'content-type: application/json'

It uses only taskq's public API: `taskq.configure`, `Task.enqueue`, `taskq.get_job`.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, jsonify, request, url_for

import taskq
from taskq import (
    BadArgumentsError,
    ConfigurationError,
    JobNotFoundError,
    Settings,
    StoreError,
    Task,
)
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
    taskq.configure(app.config["TASKQ_SETTINGS"])  # the process's producer connection
    app.register_blueprint(views)
    return app


@views.get("/")
def index() -> Any:
    return jsonify(tasks=sorted(WEB_TASKS), enqueue="POST /jobs {task, args, kwargs}",
                   status="GET /jobs/<id>", cancel="POST /jobs/<id>/cancel {force}")


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
        job = task.enqueue(args=args, kwargs=kwargs)
    except BadArgumentsError as exc:
        return jsonify(error=str(exc)), 400
    location = url_for("jobs.status", job_id=job.id)
    return jsonify(id=job.id, queue=job.queue, status_url=location), 202, {"Location": location}


@views.get("/jobs/<job_id>")
def status(job_id: str) -> Any:
    """The job's status from its id alone (`?queue=` only for ids chosen by the caller)."""
    try:
        job = taskq.get_job(job_id, request.args.get("queue"))
        record = job.refresh()
    except ConfigurationError as exc:
        return jsonify(error=str(exc)), 400
    except JobNotFoundError as exc:
        return jsonify(error=str(exc)), 404
    out: dict[str, Any] = {"id": job_id, "queue": job.queue, "status": record["status"],
                           "task": record.get("task")}
    if record["status"] == "done":
        out["result"] = json.loads(record.get("result", "null"))
    elif record["status"] in ("dead", "cancelled", "expired"):
        out["error"] = record.get("error") or record.get("reason")
    return jsonify(out)


@views.post("/jobs/<job_id>/cancel")
def cancel(job_id: str) -> Any:
    force = bool((request.get_json(silent=True) or {}).get("force"))
    try:
        outcome = taskq.get_job(job_id, request.args.get("queue")).cancel(force=force)
    except ConfigurationError as exc:
        return jsonify(error=str(exc)), 400
    except JobNotFoundError as exc:
        return jsonify(error=str(exc)), 404
    code = 200 if outcome in ("cancelled", "requested") else 409
    return jsonify(id=job_id, outcome=outcome), code


@views.app_errorhandler(StoreError)
def redis_down(exc: StoreError) -> Any:
    return jsonify(error=f"the queue is unavailable: {exc}"), 503
