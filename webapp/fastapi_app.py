"""The example web app again, in FastAPI: a POST enqueues a job from workers/, a GET shows its
status and result, a POST to /jobs/<id>/cancel cancels it. Same routes and answers as the
Flask app in webapp/__init__.py, and the same rule: only taskq's public API.

    uvicorn --factory webapp.fastapi_app:create_app    # next to: taskq worker workers.example

Both read TASKQ_REDIS_URL / REDIS_URL; without either they share the project's embedded
server. Enqueueing is synchronous (one Redis round trip), so it runs in the thread
pool: a plain `def` endpoint, or `run_in_threadpool` after reading the body.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

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


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app factory. Settings default to the environment, read here rather than at import
    time; Redis is first contacted on the first request."""
    app = FastAPI(title="taskq example")
    app.state.taskq_settings = settings or Settings.from_env()
    taskq.configure(app.state.taskq_settings)  # the process's producer connection

    @app.get("/")
    def index() -> dict[str, Any]:
        return {"tasks": sorted(WEB_TASKS), "enqueue": "POST /jobs {task, args, kwargs}",
                "status": "GET /jobs/<id>", "cancel": "POST /jobs/<id>/cancel {force}"}

    @app.post("/jobs", status_code=202)
    async def enqueue(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        return await run_in_threadpool(_enqueue, body)

    @app.get("/jobs/{job_id}")
    def status(job_id: str, queue: str | None = None) -> JSONResponse:
        """The job's status from its id alone (`?queue=` only for ids chosen by the caller)."""
        try:
            job = taskq.get_job(job_id, queue)
            record = job.refresh()
        except ConfigurationError as exc:
            return _error(str(exc), 400)
        except JobNotFoundError as exc:
            return _error(str(exc), 404)
        out: dict[str, Any] = {"id": job_id, "queue": job.queue, "status": record["status"],
                               "task": record.get("task")}
        if record["status"] == "done":
            out["result"] = json.loads(record.get("result", "null"))
        elif record["status"] in ("dead", "cancelled", "expired"):
            out["error"] = record.get("error") or record.get("reason")
        return JSONResponse(out)

    @app.post("/jobs/{job_id}/cancel")
    async def cancel(job_id: str, request: Request, queue: str | None = None
                     ) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        force = bool(body.get("force")) if isinstance(body, dict) else False
        return await run_in_threadpool(_cancel, job_id, queue, force)

    @app.exception_handler(StoreError)
    def redis_down(request: Request, exc: StoreError) -> JSONResponse:
        return _error(f"the queue is unavailable: {exc}", 503)

    return app


def _cancel(job_id: str, queue: str | None, force: bool) -> JSONResponse:
    try:
        outcome = taskq.get_job(job_id, queue).cancel(force=force)
    except ConfigurationError as exc:
        return _error(str(exc), 400)
    except JobNotFoundError as exc:
        return _error(str(exc), 404)
    return JSONResponse({"id": job_id, "outcome": outcome},
                        status_code=200 if outcome in ("cancelled", "requested") else 409)


def _enqueue(body: Any) -> JSONResponse:
    if not isinstance(body, dict):
        return _error('expected a JSON body such as {"task": "add", "args": [2, 3]} with '
                      "content-type: application/json", 400)
    task = WEB_TASKS.get(str(body.get("task")))
    if task is None:
        return _error(f"unknown task {body.get('task')!r}; one of {sorted(WEB_TASKS)}", 400)
    args, kwargs = body.get("args", []), body.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return _error("args must be a list and kwargs an object", 400)
    try:
        job = task.enqueue(args=args, kwargs=kwargs)
    except BadArgumentsError as exc:
        return _error(str(exc), 400)
    location = f"/jobs/{job.id}"
    return JSONResponse({"id": job.id, "queue": job.queue, "status_url": location},
                        status_code=202, headers={"Location": location})


def _error(message: str, code: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=code)
