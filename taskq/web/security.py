"""The dashboard's guards: a token for actions that change state, CSRF safety, headers.

Actions (POST) need the token in the `X-Taskq-Token` header and a JSON body: a cross-site
form cannot set a custom header, and a cross-site script would need a CORS preflight that
this app never grants. A request that names another Origin is refused too. Pages and JSON
are read-only; the page renders all data with textContent (never as HTML), and the
Content-Security-Policy allows only this app's own scripts.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse

TOKEN_HEADER = "x-taskq-token"
HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; "
                                "frame-ancestors 'none'; base-uri 'self'; form-action 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def same_origin(headers: Mapping[str, str], url: Any) -> bool:
    """True when the request names no Origin, or this app's own (host and port)."""
    origin = headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == headers.get("host", url.netloc)


def refuse_action(request: Request) -> JSONResponse | None:
    """Why a state-changing request is refused, or None when it may go ahead."""
    hub = request.app.state.hub
    if hub.read_only:
        return JSONResponse({"error": "this dashboard is read-only (--read-only)"}, 403)
    if not hub.token:
        return JSONResponse({"error": "actions are off: start taskq web with --token or "
                                      "TASKQ_WEB_TOKEN"}, 403)
    given = request.headers.get(TOKEN_HEADER, "")
    if not hmac.compare_digest(given.encode(), hub.token.encode()):
        return JSONResponse({"error": "a valid token is needed for this action"}, 401)
    if not same_origin(request.headers, request.url):
        return JSONResponse({"error": "cross-site request refused"}, 403)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return JSONResponse({"error": "send the action as application/json"}, 415)
    return None


class SecurityHeaders:
    """ASGI middleware adding HEADERS to every HTTP response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for name, value in HEADERS.items():
                    if name.lower().encode() not in names:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
