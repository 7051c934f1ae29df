"""Turns Settings into a redis-py client (resolving the embedded server when no URL is set)."""

from __future__ import annotations

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from taskq.config import Settings
from taskq.server import EmbeddedServer


def resolve_url(settings: Settings) -> str:
    if settings.url:
        return settings.url
    return EmbeddedServer(settings.home).ensure()


def connect(settings: Settings) -> Redis:
    """A client with its own connection pool; nothing is sent until first use.

    redis-py's own retries are off: it would silently repeat scripts that move jobs, hiding
    a lost reply. taskq retries where a repeat is safe, and adopts what a lost reply moved.
    """
    return Redis.from_url(
        resolve_url(settings),
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=5,
        socket_keepalive=True,
        health_check_interval=30,
        client_name="taskq",
        retry=Retry(NoBackoff(), 0),
    )
