"""taskq's own client for one plain Redis server (redis:// or unix://, no TLS).

Why not redis-py here: importing redis-py costs a process about 0.25 s of CPU and 9 MB of
memory (it brings its asyncio client, ssl and observability hooks with it), which a worker
pays at every start and holds for its life. taskq sends a few dozen commands; this client
sends them packed by hiredis (redis-py's own C parser, already a dependency) on one socket
per process and thread, and returns what redis-py returns for them: the same reply shapes
and the same exception names and hierarchy (`taskq.rediserrors` catches both clients'
exceptions). tests/test_wire.py compares the two command by command. Cluster, Sentinel and
TLS URLs are redis-py's (taskq.connection picks).

What it keeps from the way taskq uses redis-py: socket and connect timeouts, TCP keepalive,
AUTH (user and password), SELECT, CLIENT SETNAME, no retries of its own (a lost reply is the
caller's to judge), a connection that saw trouble never reused, a forked child never touching
its parent's socket (the pid is checked at each use), and a PING before reusing a connection
idle longer than the health-check interval (a stale one is replaced; a PING that failed did
nothing, so reconnecting is safe).
"""

from __future__ import annotations

import builtins
import contextlib
import os
import socket
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import hiredis


# The exceptions: redis-py's names and hierarchy, so callers read the same either way.
class RedisError(Exception):
    pass


class ConnectionError(RedisError):
    pass


class TimeoutError(RedisError):
    pass


class AuthenticationError(ConnectionError):
    pass


class BusyLoadingError(ConnectionError):
    pass


class ResponseError(RedisError):
    pass


class NoScriptError(ResponseError):
    pass


class ReadOnlyError(ResponseError):
    pass


class OutOfMemoryError(ResponseError):
    pass


class ExecAbortError(ResponseError):
    pass


class NoPermissionError(ResponseError):
    pass


class InvalidResponse(RedisError):
    pass


class MasterDownError(ResponseError):
    pass


class TryAgainError(ResponseError):
    pass


class ClusterDownError(ResponseError):
    pass


ERROR_CODES: dict[str, type[RedisError]] = {
    "NOSCRIPT": NoScriptError, "LOADING": BusyLoadingError, "READONLY": ReadOnlyError,
    "OOM": OutOfMemoryError, "EXECABORT": ExecAbortError, "NOPERM": NoPermissionError,
    "WRONGPASS": AuthenticationError, "NOAUTH": AuthenticationError,
    "MASTERDOWN": MasterDownError, "TRYAGAIN": TryAgainError, "CLUSTERDOWN": ClusterDownError,
}
ERR_MESSAGES: dict[str, type[RedisError]] = {  # "ERR <message>" replies redis-py singles out
    "max number of clients reached": ConnectionError,
    "invalid password": AuthenticationError,
    "Client sent AUTH, but no password is set": AuthenticationError,
    "AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?": AuthenticationError,
}


def error_of(reply: Any) -> RedisError:
    """The exception for an error reply, as redis-py makes it: a known code picks the class
    and is cut off the message (ERR, NOSCRIPT, LOADING, ...); any other reply is a
    ResponseError with the whole text."""
    text = str(reply)
    code, _, rest = text.partition(" ")
    if code in ERROR_CODES:
        return ERROR_CODES[code](rest)
    if code == "ERR":
        return ERR_MESSAGES.get(rest, ResponseError)(rest)
    return ResponseError(text)


def _no_password_wanted(error: RedisError) -> bool:
    """AUTH with a password on a server that has none: redis-py logs in (the default user
    is nopass), so this client does too."""
    return "called without any password configured" in str(error)


def serves(url: str) -> bool:
    """Whether this client can talk to `url`: one server over TCP or a unix socket, without
    TLS and without options it does not know."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "unix"):
        return False
    query = {name for name, _ in parse_qsl(parts.query)}
    return query <= {"db", "socket_timeout", "socket_connect_timeout", "client_name"}


class Address:
    """Where and how to connect (from a URL; options as redis-py's from_url takes them)."""

    def __init__(self, url: str, socket_timeout: float | None = None,
                 socket_connect_timeout: float | None = None, socket_keepalive: bool = False,
                 client_name: str | None = None) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.url = url
        self.path = unquote(parts.path) if parts.scheme == "unix" else None
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 6379
        db = query.get("db") or (parts.path.lstrip("/") if parts.scheme == "redis" else "")
        self.db = int(db or 0)
        # As redis-py reads them: an empty name or password is none.
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.socket_timeout = float(query.get("socket_timeout") or socket_timeout or 0) or None
        self.connect_timeout = (float(query.get("socket_connect_timeout") or 0)
                                or socket_connect_timeout or self.socket_timeout)
        self.keepalive = socket_keepalive
        self.client_name = query.get("client_name") or client_name

    def open(self) -> socket.socket:
        try:
            if self.path is not None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(self.connect_timeout)
                    sock.connect(self.path)
                except BaseException:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection((self.host, self.port), self.connect_timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.keepalive:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        except builtins.TimeoutError as exc:
            raise TimeoutError(f"Timeout connecting to {self.where()}") from exc
        except OSError as exc:
            raise ConnectionError(f"Error {exc.errno} connecting to {self.where()}. "
                                  f"{exc.strerror or exc}.") from exc
        sock.settimeout(self.socket_timeout)
        return sock

    def where(self) -> str:
        return self.path if self.path is not None else f"{self.host}:{self.port}"

    def handshake(self) -> list[tuple[Any, ...]]:
        """The commands a new connection sends first (in one round trip)."""
        commands: list[tuple[Any, ...]] = []
        if self.username:  # an ACL user (a nopass one takes any password)
            commands.append(("AUTH", self.username, self.password or ""))
        elif self.password is not None:
            commands.append(("AUTH", self.password))
        if self.db:
            commands.append(("SELECT", self.db))
        if self.client_name:
            commands.append(("CLIENT", "SETNAME", self.client_name))
        return commands


class Pending:
    """The reply to a command sent ahead (`WireClient.send_ahead`), read later. Replies come
    back in the order the commands went, so the connection reads every reply sent ahead
    before it reads the next command's (`Connection.settle`)."""

    __slots__ = ("conn", "ready", "reply")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.ready = False
        self.reply: Any = None


class Connection:
    """One socket to the server and its reply reader."""

    def __init__(self, address: Address) -> None:
        self.sock: socket.socket | None = None
        self.unread: deque[Pending] = deque()  # sent ahead, reply not read yet (in order)
        # Held while the socket is used: a reply sent ahead may be read by another thread
        # than the connection's own (a worker's timer, while a job runs long).
        self.lock = threading.Lock()
        self.busy = False  # a command of the owning thread is under way (see execute)
        self.pid = os.getpid()
        # Error replies (nested ones too) become the right exception, returned in place.
        self.reader = hiredis.Reader(protocolError=InvalidResponse, replyError=error_of)
        self.sock = address.open()
        self.used_at = time.monotonic()
        try:
            for reply in self.roundtrip(address.handshake()):
                if isinstance(reply, RedisError) and not _no_password_wanted(reply):
                    raise reply
        except BaseException:
            self.close()
            raise

    def send_packed(self, data: bytes) -> None:
        """Send one request (a command or a batch of them): once per round trip."""
        sock = self.sock
        if sock is None:
            raise ConnectionError("Connection closed.")
        try:
            sock.sendall(data)
        except builtins.TimeoutError as exc:
            raise TimeoutError("Timeout writing to socket") from exc
        except OSError as exc:
            raise ConnectionError(f"Error while writing to socket. {exc}.") from exc

    def read_reply(self) -> Any:
        """The next reply; an error reply is returned as its exception, not raised."""
        reader = self.reader
        reply = reader.gets()
        while reply is False:
            sock = self.sock
            if sock is None:
                raise ConnectionError("Connection closed.")
            try:
                data = sock.recv(65536)
            except builtins.TimeoutError as exc:
                raise TimeoutError("Timeout reading from socket") from exc
            except OSError as exc:
                raise ConnectionError(f"Error while reading from socket: {exc}") from exc
            if not data:
                raise ConnectionError("Connection closed by server.")
            reader.feed(data)
            reply = reader.gets()
        return reply

    def settle(self) -> None:
        """Read the replies of the commands sent ahead, into their Pending (in order)."""
        while self.unread:
            pending = self.unread[0]
            pending.reply = self.read_reply()
            pending.ready = True
            self.unread.popleft()

    def fail_unread(self) -> None:
        """The connection goes: what was sent ahead may or may not have run."""
        while self.unread:
            pending = self.unread.popleft()
            pending.reply = ConnectionError("Connection dropped before the reply was read.")
            pending.ready = True

    def roundtrip(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send every command, then read every reply (error replies in place)."""
        if not commands:
            return []
        if self.unread:
            self.settle()
        self.send_packed(b"".join(hiredis.pack_command(c) for c in commands))
        replies = [self.read_reply() for _ in commands]
        self.used_at = time.monotonic()
        return replies

    def __del__(self) -> None:
        # A thread's connection goes with the thread (its threading.local): close it then.
        self.close()

    def close(self) -> None:
        self.fail_unread()
        sock, self.sock = self.sock, None
        if sock is None:
            return
        with contextlib.suppress(OSError):
            if self.pid == os.getpid():
                # Ends the connection on the server even if a forked child holds a copy of
                # the socket (a blocking command given up on must not run later), and wakes
                # a thread blocked reading it. Never in a child: the socket is the parent's.
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()


def _bool_ok(reply: Any) -> bool:
    return reply == b"OK" or reply == "OK"


def _pairs(reply: Any) -> dict[Any, Any]:
    it = iter(reply or ())
    return dict(zip(it, it, strict=False))


def _score_pairs(reply: Any, withscores: bool = False) -> Any:
    if not reply or not withscores:
        return reply
    it = iter(reply)
    return list(zip(it, map(float, it), strict=False))


def _stream(reply: Any) -> Any:
    if reply is None:
        return None
    return [(entry[0], _pairs(entry[1])) if entry is not None else (None, None)
            for entry in reply]


def _xread(reply: Any) -> Any:
    return [] if reply is None else [[r[0], _stream(r[1])] for r in reply]


def _xinfo_stream(reply: Any) -> dict[str, Any]:
    data = {(k.decode() if isinstance(k, bytes) else k): v for k, v in _pairs(reply).items()}
    for name in ("first-entry", "last-entry"):
        entry = data.get(name)
        if entry is not None and entry[0] is not None:
            data[name] = (entry[0], _pairs(entry[1]))
    return data


def _info_value(value: str) -> Any:
    if "," not in value and "=" not in value:
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value
    if "=" not in value:
        return [_info_value(v) for v in value.split(",") if v]
    fields: dict[str, Any] = {}
    for item in value.split(","):
        if "=" in item:
            k, v = item.rsplit("=", 1)
            fields[k] = _info_value(v)
        elif item:
            fields[item] = True
    return fields


def _info(reply: Any) -> dict[str, Any]:
    """INFO's text as redis-py's parse_info gives it."""
    text = reply.decode() if isinstance(reply, bytes) else reply
    info: dict[str, Any] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if ":" not in line:
            info.setdefault("__raw__", []).append(line)
            continue
        key, value = line.split(":", 1)
        if key == "cmdstat_host":
            key, value = line.rsplit(":", 1)
        if key == "module":
            info.setdefault("modules", []).append(_info_value(value))
        else:
            info[key] = _info_value(value)
    return info


def _config(reply: Any) -> dict[str, Any]:
    return _pairs([v.decode() if isinstance(v, bytes) else v for v in reply or ()])


def _text(reply: Any) -> Any:
    return reply.decode() if isinstance(reply, bytes) else reply


# Reply shapes by command (redis-py's RESP2 callbacks for the commands taskq sends); a
# command not named here returns the reply as read.
CALLBACKS: dict[str, Any] = {
    "PING": lambda r, **_: _text(r) == "PONG",
    "SET": lambda r, **o: r if o.get("get") else (r and _text(r) == "OK"),
    "EXPIRE": lambda r, **_: bool(r), "PEXPIRE": lambda r, **_: bool(r),
    "HEXISTS": lambda r, **_: bool(r),
    "HGETALL": lambda r, **_: _pairs(r),
    "SMEMBERS": lambda r, **_: set(r) if r else set(),
    "ZRANGE": _score_pairs, "ZRANGEBYSCORE": _score_pairs, "ZREVRANGEBYSCORE": _score_pairs,
    "ZREVRANGE": _score_pairs,
    "ZSCORE": lambda r, **_: None if r is None else float(r),
    "ZADD": lambda r, **o: None if r is None else (float(r) if o.get("as_score") else int(r)),
    "TIME": lambda r, **_: (int(r[0]), int(r[1])),
    "INFO": lambda r, **_: _info(r),
    "CONFIG GET": lambda r, **_: _config(r),
    "SCRIPT EXISTS": lambda r, **_: [bool(x) for x in r],
    "SCRIPT LOAD": lambda r, **_: _text(r),
    "XREAD": lambda r, **_: _xread(r),
    "XRANGE": lambda r, **_: _stream(r), "XREVRANGE": lambda r, **_: _stream(r),
    "XINFO STREAM": lambda r, **_: _xinfo_stream(r),
    "FLUSHALL": lambda r, **_: _bool_ok(r), "FLUSHDB": lambda r, **_: _bool_ok(r),
    "SELECT": lambda r, **_: _bool_ok(r), "CLIENT SETNAME": lambda r, **_: _bool_ok(r),
    "CONFIG SET": lambda r, **_: _bool_ok(r), "SCRIPT FLUSH": lambda r, **_: _bool_ok(r),
}
TWO_WORD = {"CONFIG", "SCRIPT", "XINFO", "CLIENT"}


def command_name(args: tuple[Any, ...]) -> str:
    name = str(args[0]).upper()
    if name in TWO_WORD and len(args) > 1:
        return f"{name} {str(args[1]).upper()}"
    return name


def shape(args: tuple[Any, ...], reply: Any, options: Mapping[str, Any]) -> Any:
    callback = CALLBACKS.get(command_name(args))
    return reply if callback is None else callback(reply, **options)


class Commands:
    """The commands taskq sends, as redis-py spells them; each goes to `execute_command`
    (which runs it now on a client, and queues it on a pipeline)."""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        raise NotImplementedError

    def ping(self) -> Any:
        return self.execute_command("PING")

    def time(self) -> Any:
        return self.execute_command("TIME")

    def info(self, section: str | None = None) -> Any:
        return self.execute_command("INFO", *([section] if section else []))

    def config_get(self, pattern: str = "*") -> Any:
        return self.execute_command("CONFIG", "GET", pattern)

    def flushall(self) -> Any:
        return self.execute_command("FLUSHALL")

    def get(self, name: Any) -> Any:
        return self.execute_command("GET", name)

    def set(self, name: Any, value: Any, ex: int | None = None, px: int | None = None,
            nx: bool = False, xx: bool = False) -> Any:
        args: list[Any] = ["SET", name, value]
        if ex is not None:
            args += ["EX", ex]
        if px is not None:
            args += ["PX", px]
        if nx:
            args.append("NX")
        if xx:
            args.append("XX")
        return self.execute_command(*args)

    def incr(self, name: Any, amount: int = 1) -> Any:
        return self.execute_command("INCRBY", name, amount)

    def exists(self, *names: Any) -> Any:
        return self.execute_command("EXISTS", *names)

    def delete(self, *names: Any) -> Any:
        return self.execute_command("DEL", *names)

    def expire(self, name: Any, time: int) -> Any:
        return self.execute_command("EXPIRE", name, int(time))

    def ttl(self, name: Any) -> Any:
        return self.execute_command("TTL", name)

    def pttl(self, name: Any) -> Any:
        return self.execute_command("PTTL", name)

    def type(self, name: Any) -> Any:
        return self.execute_command("TYPE", name)

    def keys(self, pattern: Any = "*") -> Any:
        return self.execute_command("KEYS", pattern)

    def hget(self, name: Any, key: Any) -> Any:
        return self.execute_command("HGET", name, key)

    def hmget(self, name: Any, keys: Any, *args: Any) -> Any:
        fields = [keys, *args] if isinstance(keys, (str, bytes)) else [*keys, *args]
        return self.execute_command("HMGET", name, *fields)

    def hgetall(self, name: Any) -> Any:
        return self.execute_command("HGETALL", name)

    def hvals(self, name: Any) -> Any:
        return self.execute_command("HVALS", name)

    def hlen(self, name: Any) -> Any:
        return self.execute_command("HLEN", name)

    def hexists(self, name: Any, key: Any) -> Any:
        return self.execute_command("HEXISTS", name, key)

    def hincrby(self, name: Any, key: Any, amount: int = 1) -> Any:
        return self.execute_command("HINCRBY", name, key, amount)

    def hset(self, name: Any, key: Any = None, value: Any = None,
             mapping: Mapping[Any, Any] | None = None, items: Iterable[Any] | None = None
             ) -> Any:
        pieces: list[Any] = []
        if key is not None:
            pieces += [key, value]
        for field, field_value in (mapping or {}).items():
            pieces += [field, field_value]
        pieces += list(items or ())
        if not pieces:
            raise ValueError("'hset' with no key value pairs")
        return self.execute_command("HSET", name, *pieces)

    def hdel(self, name: Any, *keys: Any) -> Any:
        return self.execute_command("HDEL", name, *keys)

    def llen(self, name: Any) -> Any:
        return self.execute_command("LLEN", name)

    def lrange(self, name: Any, start: int, end: int) -> Any:
        return self.execute_command("LRANGE", name, start, end)

    def lindex(self, name: Any, index: int) -> Any:
        return self.execute_command("LINDEX", name, index)

    def lpush(self, name: Any, *values: Any) -> Any:
        return self.execute_command("LPUSH", name, *values)

    def rpush(self, name: Any, *values: Any) -> Any:
        return self.execute_command("RPUSH", name, *values)

    def lrem(self, name: Any, count: int, value: Any) -> Any:
        return self.execute_command("LREM", name, count, value)

    def brpoplpush(self, src: Any, dst: Any, timeout: float | None = 0) -> Any:
        return self.execute_command("BRPOPLPUSH", src, dst, timeout or 0)

    def blmove(self, first_list: Any, second_list: Any, timeout: float,
               src: str = "LEFT", dest: str = "RIGHT") -> Any:
        return self.execute_command("BLMOVE", first_list, second_list, src, dest, timeout)

    def sadd(self, name: Any, *values: Any) -> Any:
        return self.execute_command("SADD", name, *values)

    def srem(self, name: Any, *values: Any) -> Any:
        return self.execute_command("SREM", name, *values)

    def smembers(self, name: Any) -> Any:
        return self.execute_command("SMEMBERS", name)

    def zadd(self, name: Any, mapping: Mapping[Any, Any], nx: bool = False, xx: bool = False,
             ch: bool = False, incr: bool = False, gt: bool = False, lt: bool = False) -> Any:
        args: list[Any] = ["ZADD", name]
        args += [flag for flag, on in (("NX", nx), ("XX", xx), ("GT", gt), ("LT", lt),
                                       ("CH", ch), ("INCR", incr)) if on]
        for member, score in mapping.items():
            args += [score, member]
        return self.execute_command(*args, as_score=incr)

    def zrem(self, name: Any, *values: Any) -> Any:
        return self.execute_command("ZREM", name, *values)

    def zcard(self, name: Any) -> Any:
        return self.execute_command("ZCARD", name)

    def zcount(self, name: Any, min: Any, max: Any) -> Any:
        return self.execute_command("ZCOUNT", name, min, max)

    def zscore(self, name: Any, value: Any) -> Any:
        return self.execute_command("ZSCORE", name, value)

    def zrange(self, name: Any, start: int, end: int, desc: bool = False,
               withscores: bool = False) -> Any:
        if desc:
            return self.execute_command("ZREVRANGE", name, start, end,
                                        *(["WITHSCORES"] if withscores else []),
                                        withscores=withscores)
        return self.execute_command("ZRANGE", name, start, end,
                                    *(["WITHSCORES"] if withscores else []),
                                    withscores=withscores)

    def zrangebyscore(self, name: Any, min: Any, max: Any, start: int | None = None,
                      num: int | None = None, withscores: bool = False) -> Any:
        return self._by_score("ZRANGEBYSCORE", name, min, max, start, num, withscores)

    def zrevrangebyscore(self, name: Any, max: Any, min: Any, start: int | None = None,
                         num: int | None = None, withscores: bool = False) -> Any:
        return self._by_score("ZREVRANGEBYSCORE", name, max, min, start, num, withscores)

    def _by_score(self, command: str, name: Any, first: Any, second: Any, start: int | None,
                  num: int | None, withscores: bool) -> Any:
        if (start is None) != (num is None):
            raise ValueError("``start`` and ``num`` must both be specified")
        args: list[Any] = [command, name, first, second]
        if withscores:
            args.append("WITHSCORES")
        if start is not None:
            args += ["LIMIT", start, num]
        return self.execute_command(*args, withscores=withscores)

    def xadd(self, name: Any, fields: Mapping[Any, Any], id: Any = "*",
             maxlen: int | None = None, approximate: bool = True) -> Any:
        args: list[Any] = ["XADD", name]
        if maxlen is not None:
            args += ["MAXLEN", "~", maxlen] if approximate else ["MAXLEN", maxlen]
        args.append(id)
        for field, value in fields.items():
            args += [field, value]
        return self.execute_command(*args)

    def xlen(self, name: Any) -> Any:
        return self.execute_command("XLEN", name)

    def xrange(self, name: Any, min: Any = "-", max: Any = "+",
               count: int | None = None) -> Any:
        return self.execute_command("XRANGE", name, min, max,
                                    *(["COUNT", count] if count is not None else []))

    def xrevrange(self, name: Any, max: Any = "+", min: Any = "-",
                  count: int | None = None) -> Any:
        return self.execute_command("XREVRANGE", name, max, min,
                                    *(["COUNT", count] if count is not None else []))

    def xread(self, streams: Mapping[Any, Any], count: int | None = None,
              block: int | None = None) -> Any:
        args: list[Any] = ["XREAD"]
        if count is not None:
            args += ["COUNT", count]
        if block is not None:
            args += ["BLOCK", block]
        args += ["STREAMS", *streams.keys(), *streams.values()]
        return self.execute_command(*args)

    def xinfo_stream(self, name: Any) -> Any:
        return self.execute_command("XINFO", "STREAM", name)

    def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> Any:
        return self.execute_command("EVAL", script, numkeys, *keys_and_args)

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        return self.execute_command("EVALSHA", sha, numkeys, *keys_and_args)

    def script_load(self, script: str) -> Any:
        return self.execute_command("SCRIPT", "LOAD", script)

    def script_exists(self, *args: str) -> Any:
        return self.execute_command("SCRIPT", "EXISTS", *args)

    def shutdown(self, nosave: bool = False) -> Any:
        return self.execute_command("SHUTDOWN", *(["NOSAVE"] if nosave else []))


class WireClient(Commands):
    """A client for one server: `execute_command` runs a command and returns its reply in
    redis-py's shape; `execute` and `execute_many` send raw commands (scripting's hot
    paths). Thread-safe (a connection per thread) and fork-safe."""

    def __init__(self, address: Address, health_check_interval: float = 0.0,
                 options: Mapping[str, Any] | None = None) -> None:
        self.address = address
        self.health_check_interval = health_check_interval
        self.options = dict(options or {})  # as given to from_url (for redis_py)
        self._local = threading.local()
        self._open: weakref.WeakSet[Connection] = weakref.WeakSet()
        self._lock = threading.Lock()  # guards _open (close() may run on another thread)
        self._redis_py: Any = None

    @classmethod
    def from_url(cls, url: str, *, socket_timeout: float | None = None,
                 socket_connect_timeout: float | None = None, socket_keepalive: bool = False,
                 health_check_interval: float = 0.0, client_name: str | None = None
                 ) -> WireClient:
        if not serves(url):
            raise ValueError(f"taskq.wire serves redis:// and unix:// URLs only, not {url!r}")
        options = {"socket_timeout": socket_timeout,
                   "socket_connect_timeout": socket_connect_timeout,
                   "socket_keepalive": socket_keepalive,
                   "health_check_interval": health_check_interval, "client_name": client_name}
        return cls(Address(url, socket_timeout, socket_connect_timeout, socket_keepalive,
                           client_name), health_check_interval, options)

    def __getattr__(self, name: str) -> Any:
        """A command this client does not send itself (`scan_iter`, `lpop`, ...: what a
        user's code or a test may call on `store.client`) is redis-py's: a redis.Redis for
        the same server and options serves it, made (and redis-py imported) on first use.
        taskq's own paths never get here."""
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.redis_py(), name)

    def redis_py(self) -> Any:
        if self._redis_py is None:
            from redis import Redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            self._redis_py = Redis.from_url(self.address.url, retry=Retry(NoBackoff(), 0),
                                            **self.options)
        return self._redis_py

    def __repr__(self) -> str:
        return f"<WireClient {self.address.where()} db={self.address.db}>"

    def connection(self) -> Connection:
        """This thread's connection (a new one in a forked child, or after trouble)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.pid != os.getpid() or conn.sock is None:
            return self._open_new()
        if (self.health_check_interval and not conn.unread and not conn.busy
                and time.monotonic() - conn.used_at > self.health_check_interval):
            try:
                with conn.lock:
                    conn.roundtrip([("PING",)])
            except (ConnectionError, TimeoutError):
                self.drop(conn)  # stale (a restarted server, say): a PING did nothing
                return self._open_new()
            except BaseException:
                self.drop(conn)  # interrupted mid-read: its reply may still come
                raise
        return conn

    def _open_new(self) -> Connection:
        conn = self._local.conn = Connection(self.address)
        with self._lock:
            self._open.add(conn)
        return conn

    def drop(self, conn: Connection) -> None:
        conn.close()
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None

    def execute(self, command: tuple[Any, ...]) -> Any:
        """One raw command; an error reply is raised."""
        conn = self.connection()
        if conn.busy:  # called again on this thread mid-command (a signal handler, say)
            (reply,) = self._aside([command])
            if isinstance(reply, RedisError):
                raise reply
            return reply
        conn.busy = True
        try:
            with conn.lock:
                if conn.unread:  # replies to commands sent ahead come first
                    conn.settle()
                conn.send_packed(hiredis.pack_command(command))
                reply = conn.read_reply()
        except BaseException:
            # Connection trouble, or an interrupt mid-read that may leave a reply behind:
            # never reuse this connection.
            self.drop(conn)
            raise
        finally:
            conn.busy = False
        conn.used_at = time.monotonic()
        if isinstance(reply, RedisError):
            if isinstance(reply, ConnectionError):
                self.drop(conn)
            raise reply
        return reply

    def _aside(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Commands on a connection of their own, closed after: the thread's connection is
        in the middle of another command, whose reply must not go to these."""
        conn = Connection(self.address)
        try:
            return conn.roundtrip(commands)
        finally:
            conn.close()

    def execute_many(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Several raw commands in one round trip; error replies returned in place."""
        conn = self.connection()
        if conn.busy:
            return self._aside(commands)
        conn.busy = True
        try:
            with conn.lock:
                return conn.roundtrip(commands)
        except BaseException:
            self.drop(conn)
            raise
        finally:
            conn.busy = False

    def send_ahead(self, command: tuple[Any, ...]) -> Pending:
        """Send one raw command now and read its reply later (`reply_of`), on this thread's
        connection: the caller works meanwhile, while the server runs it. Anything else
        sent on the connection first reads this reply (kept for `reply_of`)."""
        conn = self.connection()
        if conn.busy:
            raise RuntimeError("send_ahead in the middle of another command on this thread")
        pending = Pending(conn)
        try:
            with conn.lock:
                conn.send_packed(hiredis.pack_command(command))
                conn.unread.append(pending)
        except BaseException:
            self.drop(conn)
            raise
        return pending

    def reply_of(self, pending: Pending) -> Any:
        """The reply to a command sent ahead (read now if it was not yet, from any thread);
        an error reply is raised, and so is ConnectionError when the connection went before
        it was read (the command may or may not have run)."""
        if not pending.ready:
            conn = pending.conn
            try:
                with conn.lock:
                    conn.settle()
            except BaseException:
                self.drop(conn)
                raise
        reply = pending.reply
        if isinstance(reply, RedisError):
            if isinstance(reply, ConnectionError) and pending.conn.sock is not None:
                self.drop(pending.conn)  # LOADING and the like: as execute does
            raise reply
        return reply

    def execute_command(self, *args: Any, **options: Any) -> Any:
        return shape(args, self.execute(args), options)

    def pipeline(self, transaction: bool = True) -> Any:
        """taskq's pipelines are not transactions (its atomic steps are scripts); a
        transaction (MULTI/EXEC, redis-py's default) is redis-py's."""
        if transaction:
            return self.redis_py().pipeline(transaction=True)
        return WirePipeline(self)

    def close(self) -> None:
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            conn.close()
        self._local = threading.local()
        if self._redis_py is not None:
            self._redis_py.close()

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WirePipeline(Commands):
    """Commands queued and sent in one round trip by `execute` (not a transaction)."""

    def __init__(self, client: WireClient) -> None:
        self.client = client
        self.commands: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __len__(self) -> int:
        return len(self.commands)

    def __bool__(self) -> bool:
        return True  # as redis-py's: an empty pipeline is still a pipeline

    def __enter__(self) -> WirePipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.commands = []

    def execute_command(self, *args: Any, **options: Any) -> WirePipeline:
        self.commands.append((args, options))
        return self

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        commands, self.commands = self.commands, []
        if not commands:
            return []
        replies = self.client.execute_many([args for args, _ in commands])
        results = [reply if isinstance(reply, Exception) else shape(args, reply, options)
                   for (args, options), reply in zip(commands, replies, strict=True)]
        if any(isinstance(r, ConnectionError) for r in results):
            conn = getattr(self.client._local, "conn", None)
            if conn is not None:
                self.client.drop(conn)
        if raise_on_error:
            for result in results:
                if isinstance(result, Exception):
                    raise result
        return results
