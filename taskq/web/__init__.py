"""taskq's web side: the live dashboard, the push channels (SSE, WebSocket) and /metrics, as
one ASGI app (`create_app`), run by `taskq web` or mounted in your own app.
Needs the `web` extra: pip install 'taskq[web]'."""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any) -> Any:
    from taskq.web.app import create_app as make

    return make(*args, **kwargs)


__all__ = ["create_app"]
