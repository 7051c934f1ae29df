"""The ASGI app: the dashboard's pages and JSON, the push channels, and /metrics.

    from taskq.web import create_app
    app = create_app()                      # settings from the environment
    # in your own Starlette app: Mount("/taskq", app=create_app(settings, token=...))

It reads state only through the admin read views and moves dead letters only through
taskq.admin.deadletters (the store's scripts); it never writes queue state itself.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from taskq.admin import inspect
from taskq.admin.deadletters import DeadLetters, Filters
from taskq.admin.options import When
from taskq.config import Settings
from taskq.connection import connect, connect_async, resolve_url
from taskq.errors import JobNotFoundError, TaskqError
from taskq.keys import check_queue_name
from taskq.metrics import registry_for, render
from taskq.store import RedisStore
from taskq.web import push
from taskq.web.hub import Hub
from taskq.web.security import SecurityHeaders, refuse_action

STATIC = resources.files("taskq").joinpath("web", "static")
MAX_DEAD_ROWS = 500


def create_app(settings: Settings | None = None, token: str | None = None,
               read_only: bool = False) -> Starlette:
    """The dashboard app. `token` enables the actions (requeue, purge) for requests that
    carry it; without one, or with `read_only`, every action is refused."""
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = RedisStore(connect(settings), settings)
        aclient = connect_async(resolve_url(settings), settings)  # a Cluster's too
        app.state.hub = Hub(store, aclient, token, read_only)
        app.state.metrics = registry_for(store)
        try:
            yield
        finally:
            await aclient.aclose()
            store.client.close()

    routes = [
        Route("/", page), Route("/workers", page), Route("/dead", page),
        Route("/jobs/{job_id}", page),
        Route("/api/overview", overview), Route("/api/workers", workers_json),
        Route("/api/jobs/{job_id}", job_json), Route("/api/dead", dead_json),
        Route("/api/dead/requeue", dead_action, methods=["POST"]),
        Route("/api/dead/purge", dead_action, methods=["POST"]),
        Route("/events/sse", push.sse), WebSocketRoute("/events/ws", push.websocket),
        Route("/metrics", metrics),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(SecurityHeaders)])


def _hub(request: Request) -> Hub:
    return request.app.state.hub  # type: ignore[no-any-return]


async def page(request: Request) -> Response:
    """Every page is the same shell; dashboard.js draws the one the path names. The only
    value put into the HTML is the mount path, escaped."""
    text = STATIC.joinpath("index.html").read_text()
    root = html.escape(request.scope.get("root_path", "").rstrip("/") + "/", quote=True)
    return HTMLResponse(text.replace("__TASKQ_ROOT__", root), headers={"Cache-Control": "no-store"})


async def overview(request: Request) -> Response:
    hub = _hub(request)
    queues = tuple(check_queue_name(q) for q in request.query_params.getlist("queue"))
    return JSONResponse({"queues": await hub.overview(queues), "server": hub.settings.safe_url,
                         "actions": hub.actions_allowed, "read_only": hub.read_only})


async def workers_json(request: Request) -> Response:
    hub = _hub(request)
    rows = await hub.read(inspect.workers, hub.store)
    return JSONResponse({"workers": [w.as_dict() for w in rows]})


async def job_json(request: Request) -> Response:
    hub = _hub(request)
    try:
        story = await hub.read(inspect.job_story, hub.store, request.path_params["job_id"])
    except JobNotFoundError as exc:
        return JSONResponse({"error": str(exc)}, 404)
    return JSONResponse(story.as_dict())


def _filters(params: Any) -> Filters:
    since = params.get("since")
    limit = int(params.get("limit") or 100)
    return Filters(queues=tuple(check_queue_name(q) for q in params.getlist("queue") if q),
                   task=params.get("task") or None, error=params.get("error") or None,
                   since_ms=When().convert(since, None, None) if since else None,
                   limit=max(1, min(limit, MAX_DEAD_ROWS)))


async def dead_json(request: Request) -> Response:
    hub = _hub(request)
    try:
        filters = _filters(request.query_params)
    except (TaskqError, ValueError, Exception) as exc:
        return JSONResponse({"error": f"bad filter: {exc}"}, 400)
    rows = await hub.read(lambda: [j.as_dict() for j in DeadLetters(hub.store).select(filters)])
    return JSONResponse({"dead": rows, "actions": hub.actions_allowed})


async def dead_action(request: Request) -> Response:
    refused = refuse_action(request)
    if refused is not None:
        return refused
    hub = _hub(request)
    try:
        body = await request.json()
        ids = [str(i) for i in body["ids"]][:MAX_DEAD_ROWS]
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": 'send {"ids": ["<job id>", ...]}'}, 400)
    purge = request.url.path.endswith("/purge")

    def act() -> dict[str, str]:
        letters = DeadLetters(hub.store)
        found = letters.by_ids(ids)
        return {job.id: ("purged" if letters.purge(job) else "gone") if purge
                else letters.requeue(job) for job in found}

    try:
        results = await hub.read(act)
    except JobNotFoundError as exc:
        return JSONResponse({"error": str(exc)}, 404)
    return JSONResponse({"results": results})


async def metrics(request: Request) -> Response:
    body, content_type = await _hub(request).read(render, request.app.state.metrics)
    return Response(body, media_type=content_type)
