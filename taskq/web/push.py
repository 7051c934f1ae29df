"""Push to browsers: the event streams over SSE and WebSocket, resumable.

Protocol (both transports carry the same JSON messages):
- `hello`: first message of a fresh subscription: `cursor` (where the stream starts) and a
  `snapshot` (job story or queue counts) to draw before the events.
- `resumed`: the client came back with a cursor and nothing it missed was trimmed; the events
  after its cursor follow, each once, in order.
- `reset`: the stream was trimmed past the client's cursor: `snapshot` is the current state,
  `cursor` the new position; the client replaces what it shows.
- `event`: one event (`event`), with `cursor` = the position right after it.
- `cursor`: the position moved past events outside the scope (another job's), so that a
  reconnect need not re-read them.
SSE: each message's `id:` is its cursor, so EventSource's Last-Event-ID (or `?cursor=`)
resumes. WebSocket: the client's first message is `{"type": "subscribe"}` or
`{"type": "resume", "cursor": ...}`.
A cursor is `queue=<id>,queue=<id>` (see taskq.events): for "everything" it holds every
queue, and a queue missing from it is read from its start.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from taskq.errors import EventCursorError, JobNotFoundError, TaskqError
from taskq.events import AsyncEventFeed, Cursor
from taskq.keys import check_queue_name
from taskq.web.hub import Hub, Scope
from taskq.web.security import same_origin

BLOCK = 5.0  # seconds one XREAD waits; an idle SSE stream sends a comment this often


async def messages(hub: Hub, scope: Scope, resume: str | None) -> AsyncIterator[dict[str, Any]]:
    feed = AsyncEventFeed(hub.store, hub.aclient, scope.queues, job=scope.job)
    if resume is not None:
        cursor = Cursor.parse(resume)
        lost = await feed.gaps(cursor)
        if lost:
            cursor = await feed.now()
            yield {"type": "reset", "reason": "trimmed", "queues": lost,
                   "cursor": cursor.encode(), "snapshot": await hub.snapshot(scope)}
        else:
            yield {"type": "resumed", "cursor": cursor.encode()}
    else:
        cursor = await feed.now()
        yield {"type": "hello", "cursor": cursor.encode(), "snapshot": await hub.snapshot(scope)}
    sent = Cursor(dict(cursor.positions))
    while True:
        events = await feed.read(cursor, block=BLOCK)
        for event in events:
            sent.advance(event)
            yield {"type": "event", "cursor": sent.encode(), "event": event.as_dict()}
        if cursor.positions != sent.positions:
            sent = Cursor(dict(cursor.positions))
            yield {"type": "cursor", "cursor": sent.encode()}
        elif not events:
            yield {"type": "idle"}


async def scope_of(hub: Hub, params: Any) -> Scope:
    queues = tuple(check_queue_name(q) for q in params.getlist("queue"))
    job = params.get("job") or None
    if job and not queues:
        queues = (await hub.job_queue(job),)
    return Scope(queues, job)


def sse_format(message: dict[str, Any]) -> str:
    if message["type"] == "idle":
        return ": idle\n\n"  # a comment: keeps proxies from closing a quiet stream
    lines = [f"id: {message['cursor']}"] if "cursor" in message else []
    lines += [f"event: {message['type']}", f"data: {json.dumps(message)}", "", ""]
    return "\n".join(lines)


async def sse(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    try:
        scope = await scope_of(hub, request.query_params)
        resume = request.headers.get("last-event-id") or request.query_params.get("cursor")
        if resume is not None:
            Cursor.parse(resume)
    except (EventCursorError, JobNotFoundError, TaskqError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)

    async def body() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        async for message in messages(hub, scope, resume):
            yield sse_format(message)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def websocket(ws: WebSocket) -> None:
    hub: Hub = ws.app.state.hub
    if not same_origin(ws.headers, ws.url):
        await ws.close(code=1008)  # cross-site WebSocket hijacking
        return
    await ws.accept()
    try:
        scope = await scope_of(hub, ws.query_params)
        first = await ws.receive_json()
        resume = first.get("cursor") if first.get("type") == "resume" else None
        if resume is not None:
            Cursor.parse(str(resume))
    except WebSocketDisconnect:
        return
    except (EventCursorError, JobNotFoundError, TaskqError, ValueError) as exc:
        await ws.send_json({"type": "error", "error": str(exc)})
        await ws.close(code=1008)
        return
    sender = asyncio.create_task(_send_all(ws, hub, scope, resume))
    try:
        while True:  # the client says nothing more; a receive notices it leaving
            await ws.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)


async def _send_all(ws: WebSocket, hub: Hub, scope: Scope, resume: str | None) -> None:
    async for message in messages(hub, scope, resume):
        if message["type"] != "idle":
            await ws.send_json(message)
