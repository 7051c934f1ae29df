"""Turns Settings into a redis-py client (resolving the embedded server when no URL is set)."""

from __future__ import annotations

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from taskq.config import Settings
from taskq.errors import ServerNotRunningError
from taskq.server import EmbeddedServer


def resolve_url(settings: Settings, start: bool = True) -> str:
    """The URL to use: the configured one, else the project's embedded server (started
    first when none runs, unless `start` is False: then ServerNotRunningError)."""
    if settings.url:
        return settings.url
    embedded = EmbeddedServer(settings.home)
    if start:
        return embedded.ensure()
    url = embedded.running_url()
    if url is None:
        raise ServerNotRunningError(
            f"no Redis URL is set and no embedded server is running for {embedded.home}; "
            "start one with `taskq server` (or run a worker, which starts it), or point at "
            "a Redis with --url / TASKQ_REDIS_URL")
    return url


def connect(settings: Settings, start: bool = True) -> Redis:
    """A client with its own connection pool; nothing is sent until first use.

    redis-py's own retries are off: it would silently repeat scripts that move jobs, hiding
    a lost reply. taskq retries where a repeat is safe, and adopts what a lost reply moved.
    """
    return Redis.from_url(
        resolve_url(settings, start),
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=5,
        socket_keepalive=True,
        health_check_interval=30,
        client_name="taskq",
        retry=Retry(NoBackoff(), 0),
    )


def connect_async(url: str, settings: Settings) -> AsyncRedis:
    """The same client on redis.asyncio, for producers in async code (`adelay`, `aresult`).
    `url` is resolved first (resolve_url may start the embedded server: run it off the loop)."""
    return AsyncRedis.from_url(
        url,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=5,
        socket_keepalive=True,
        health_check_interval=30,
        client_name="taskq",
        retry=AsyncRetry(NoBackoff(), 0),
    )
