"""Turns Settings into a client (resolving the embedded server when no URL is set).

One plain server (redis:// or unix://) is served by taskq's own client, taskq.wire; a
Cluster, a Sentinel group or TLS by redis-py, imported only then (redis-py costs a process
about 0.25 s and 9 MB to import; see taskq/wire.py). TASKQ_CLIENT=redis-py makes every
client redis-py's.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from taskq import wire
from taskq.config import Settings
from taskq.errors import ServerNotRunningError
from taskq.server import EmbeddedServer
from taskq.urls import CLUSTER, SENTINEL, Target, kind_of, parse_multi

if TYPE_CHECKING:
    from redis import Redis
    from redis.cluster import RedisCluster

CLIENT_ENV = "TASKQ_CLIENT"  # "redis-py": never taskq.wire (a way out, should it misbehave)


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


def connect(settings: Settings, start: bool = True) -> Any:
    """A client of its own; nothing is sent until first use.

    The URL's form picks the client: one server without TLS (taskq.wire's, or `redis.Redis`
    with TASKQ_CLIENT=redis-py; TLS is always redis-py's), a Cluster
    (`redis.cluster.RedisCluster`, which routes each command to the node holding its key's
    slot) or the master a Sentinel group names (`Sentinel.master_for`, which finds the new
    master after a failover). redis-py's own retries are off: it would silently repeat
    scripts that move jobs, hiding a lost reply. taskq retries where a repeat is safe, and
    adopts what a lost reply moved. (MOVED and ASK redirects are still followed: a
    redirected command did not run.)
    """
    url = resolve_url(settings, start)
    if wire.serves(url) and os.environ.get(CLIENT_ENV, "").lower() != "redis-py":
        return wire.WireClient.from_url(url, **client_options(settings))
    return redis_py_client(url, settings)


def client_options(settings: Settings) -> dict[str, Any]:
    return {"socket_timeout": settings.socket_timeout, "socket_connect_timeout": 5,
            "socket_keepalive": True, "health_check_interval": 30, "client_name": "taskq"}


def redis_py_client(url: str, settings: Settings) -> Any:
    """redis-py's client for `url` (one server, a Cluster, a Sentinel's master), with
    taskq's options and redis-py's own retries off."""
    from redis import Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    options = {**client_options(settings), "retry": Retry(NoBackoff(), 0)}
    kind = kind_of(url)
    if kind == CLUSTER:
        return _cluster(parse_multi(url), options)
    if kind == SENTINEL:
        return _sentinel(parse_multi(url), options)
    return Redis.from_url(url, **options)


def _cluster(target: Target, options: dict[str, Any]) -> RedisCluster:
    from redis.cluster import ClusterNode, RedisCluster

    host, port = target.hosts[0]
    options.pop("health_check_interval")  # the cluster client checks nodes its own way
    return RedisCluster.from_url(
        target.node_url(host, port),
        startup_nodes=[ClusterNode(h, p) for h, p in target.hosts[1:]],
        **options)


def _sentinel(target: Target, options: dict[str, Any]) -> Redis:
    """The master of `target.service`. The sentinels are asked for its address at each new
    connection, so a worker whose master failed over reconnects to the promoted replica."""
    from redis.sentinel import Sentinel

    master, sentinel_options = _sentinel_options(target, options)
    sentinel = Sentinel(list(target.hosts), sentinel_kwargs=sentinel_options, **master)
    return sentinel.master_for(target.service, **master)


def _sentinel_options(target: Target, options: dict[str, Any]
                      ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the master's connection options, the sentinels' own)."""
    query = dict(parse_qsl(target.query))
    master = {**options, "db": target.db, "username": target.username,
              "password": target.password, **_tls(target, query)}
    sentinel_options = {"socket_timeout": 5, "socket_connect_timeout": 5,
                        "password": query.get("sentinel_password"), **_tls(target, query)}
    return master, sentinel_options


def _tls(target: Target, query: dict[str, str]) -> dict[str, Any]:
    if not target.tls:
        return {}
    tls: dict[str, Any] = {"ssl": True}
    for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs"):
        if query.get(name):
            tls[name] = query[name]
    return tls


def connect_async(url: str, settings: Settings) -> Any:
    """The same client on redis.asyncio, for producers in async code (`adelay`, `aresult`),
    in the URL's form (one server, a Cluster, a Sentinel's master). `url` is resolved first
    (resolve_url may start the embedded server: run it off the loop)."""
    from redis.asyncio import Redis as AsyncRedis
    from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
    from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.asyncio.sentinel import Sentinel as AsyncSentinel
    from redis.backoff import NoBackoff

    options: dict[str, Any] = {
        "socket_timeout": settings.socket_timeout, "socket_connect_timeout": 5,
        "socket_keepalive": True, "client_name": "taskq", "retry": AsyncRetry(NoBackoff(), 0),
    }
    kind = kind_of(url)
    if kind == CLUSTER:
        target = parse_multi(url)
        host, port = target.hosts[0]
        return AsyncRedisCluster.from_url(
            target.node_url(host, port),
            startup_nodes=[AsyncClusterNode(h, p) for h, p in target.hosts[1:]], **options)
    if kind == SENTINEL:
        target = parse_multi(url)
        master, sentinel_options = _sentinel_options(target, options)
        sentinel = AsyncSentinel(list(target.hosts), sentinel_kwargs=sentinel_options, **master)
        return sentinel.master_for(target.service, **master)
    return AsyncRedis.from_url(url, health_check_interval=30, **options)
