"""The URL forms that name a Redis deployment: one server, a Cluster, or a Sentinel group.

    redis://[user:pass@]host:port[/db]                  one server (rediss:// for TLS)
    unix:///path/to/redis.sock                          one server on a socket
    redis+cluster://[user:pass@]host:port[,host:port]   a Cluster, from any of its nodes
    redis+sentinel://[user:pass@]host:port[,host:port]/service_name[/db]
                                                        the master Sentinel names service_name

`rediss+cluster://` and `rediss+sentinel://` use TLS. The query string (e.g.
`?ssl_ca_certs=/path/ca.pem`) is handed to redis-py as for a plain URL. Pure parsing: nothing
here connects.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from taskq.errors import ConfigurationError

SINGLE, CLUSTER, SENTINEL = "single", "cluster", "sentinel"
SCHEMES = {"redis": SINGLE, "rediss": SINGLE, "unix": SINGLE,
           "redis+cluster": CLUSTER, "rediss+cluster": CLUSTER,
           "redis+sentinel": SENTINEL, "rediss+sentinel": SENTINEL}


@dataclass(frozen=True)
class Target:
    """A multi-host URL taken apart (cluster and sentinel forms only)."""

    kind: str
    tls: bool
    hosts: tuple[tuple[str, int], ...]
    username: str | None
    password: str | None
    service: str = ""
    db: int = 0
    query: str = ""

    def node_url(self, host: str, port: int, db: int | None = None) -> str:
        """A plain redis:// (or rediss://) URL for one node, with the same login and query."""
        auth = ""
        if self.username or self.password is not None:
            secret = "" if self.password is None else ":" + quote(self.password, safe="")
            auth = f"{quote(self.username or '', safe='')}{secret}@"
        scheme = "rediss" if self.tls else "redis"
        path = f"/{db}" if db is not None else ""
        query = f"?{self.query}" if self.query else ""
        return f"{scheme}://{auth}{host}:{port}{path}{query}"


def kind_of(url: str) -> str:
    return SCHEMES.get(url.split("://", 1)[0].lower(), SINGLE)


def parse_multi(url: str) -> Target:
    """Take a redis+cluster:// or redis+sentinel:// URL apart; ConfigurationError when bad."""
    scheme, _, rest = url.partition("://")
    kind = SCHEMES[scheme.lower()]
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    hosts = tuple(_host_port(h, url) for h in hostlist.split(",") if h.strip())
    if not hosts:
        raise ConfigurationError(f"Redis URL {redact(url)!r} names no host:port")
    segments = [s for s in path.split("/") if s]
    service, db = "", 0
    if kind == SENTINEL:
        if not segments:
            raise ConfigurationError(
                f"Sentinel URL {redact(url)!r} needs the service name after the hosts, e.g. "
                "redis+sentinel://sentinel1:26379,sentinel2:26379/mymaster/0")
        service, segments = segments[0], segments[1:]
    if len(segments) > 1 or (segments and not segments[0].isdigit()):
        raise ConfigurationError(
            f"Redis URL {redact(url)!r}: the path must be a database number, got {path!r}")
    if segments:
        db = int(segments[0])
    if kind == CLUSTER and db != 0:
        raise ConfigurationError(f"Redis URL {redact(url)!r}: a Cluster has database 0 only")
    return Target(kind, scheme.lower().startswith("rediss"), hosts, username, password,
                  service, db, query)


def _host_port(text: str, url: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(
            f"Redis URL {redact(url)!r}: {text.strip()!r} must be host:port, e.g. 10.0.0.5:6379")
    return host, int(port)


def redact(url: str) -> str:
    """Hide the password of any of taskq's URL forms; keep user, hosts, port and path."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = unquote(userinfo.split(":", 1)[0])
    return f"{scheme}://{user}:***@{hosts}{slash}{path}"


def check_single(url: str) -> None:
    """The checks of a one-server URL (see urls' module doc)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        if not parts.path:
            raise ConfigurationError("a unix:// URL needs a socket path, e.g. unix:///run/redis.sock")
        return
    if not parts.hostname:
        raise ConfigurationError(f"Redis URL {redact(url)!r} has no host")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigurationError(f"Redis URL {redact(url)!r}: {exc}") from None
    db = parts.path.lstrip("/")
    if db and not db.isdigit():
        raise ConfigurationError(
            f"Redis URL {redact(url)!r}: the path must be a database number, got {db!r}"
        )
