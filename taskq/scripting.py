"""Loads the Lua scripts shipped in taskq/lua and calls them by SHA.

The SHA is computed locally, so no round trip is spent at start; a NOSCRIPT reply (new or
restarted server) loads the script once and repeats the call, which is safe because a script
that was not found did not run.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import weakref
from importlib import resources
from typing import Any

from hiredis import pack_command  # a dependency (redis[hiredis])

from taskq import rediserrors
from taskq.keys import Keys
from taskq.topology import is_cluster
from taskq.wire import WireClient

SCRIPT_NAMES = (
    "enqueue", "fetch", "ack", "retry", "dead", "recover", "promote", "requeue_dead", "purge_dead",
    "import_dead", "claim", "watch", "lease", "guard", "prune_departed", "trim_dead", "progress",
    "acquire", "release", "enqueue_waiting", "link", "resolve",
    "publish_tasks", "bounce", "cancel", "close",
)


# Scripts that run other transitions' bodies as functions, so that their logic is written
# once: name -> the scripts it calls.
COMPOSITES = {"ack_fetch": ("ack", "fetch"), "enqueue_many": ("enqueue",),
              "enqueue": ("place",), "promote": ("place",),
              "enqueue_guarded": ("enqueue",), "tick": ("enqueue",)}


# The event stream's helper (emit.lua), placed at the top of every script that calls emit().
EMIT_HELPER = "emit"


def _read(name: str) -> str:
    return resources.files("taskq").joinpath("lua", f"{name}.lua").read_text()


def _body(name: str) -> str:
    parts = [f"local function {part}(KEYS, ARGV)\n{_body(part)}\nend\n"
             for part in COMPOSITES.get(name, ())]
    return "".join(parts) + _read(name)


def script_source(name: str) -> str:
    """The script as sent to Redis: its body (with the bodies it composes), preceded by the
    emit helper when it appends events."""
    body = _body(name)
    return (_read(EMIT_HELPER) + body) if emits(body) else body


def emits(source: str) -> bool:
    return "emit(" in source


class Scripts:
    """Every script by name. Scripts that emit events get two things appended to each call:
    the queue's events stream (found by the hash tag of the call's first key) and the
    stream's bounds from the settings (length, age in ms); emit.lua takes them off again."""

    def __init__(self, keys: Keys | None = None, events_maxlen: int = 0,
                 events_max_age: float = 0.0) -> None:
        self.source = {name: script_source(name) for name in (*SCRIPT_NAMES, *COMPOSITES)}
        self.sha = {n: hashlib.sha1(s.encode()).hexdigest() for n, s in self.source.items()}
        self.with_events = {name for name, source in self.source.items() if emits(source)}
        self.keys = keys or Keys()
        self.bounds = [int(events_maxlen), int(events_max_age * 1000)]
        self._queued: weakref.WeakKeyDictionary[Any, dict[int, list[Any]]] = \
            weakref.WeakKeyDictionary()
        self._lanes: weakref.WeakKeyDictionary[Any, FastLane | None] = \
            weakref.WeakKeyDictionary()

    def parts(self, name: str, keys: list[str], args: list[Any]
              ) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV as sent: with the events stream and its bounds when the script emits."""
        if name in self.with_events and keys:
            return [*keys, self.keys.events_beside(keys[0])], [*args, *self.bounds]
        return keys, args

    def command(self, name: str, keys: list[str], args: list[Any]) -> list[Any]:
        """The raw EVALSHA command (for callers that send it themselves)."""
        keys, args = self.parts(name, keys, args)
        return ["EVALSHA", self.sha[name], len(keys), *keys, *args]

    def call(self, client: Any, name: str, keys: list[str], args: list[Any]) -> Any:
        keys, args = self.parts(name, keys, args)
        try:
            return client.evalsha(self.sha[name], len(keys), *keys, *args)
        except rediserrors.NoScriptError:
            self.load(client, name)
            return client.evalsha(self.sha[name], len(keys), *keys, *args)

    def fast_call(self, client: Any, name: str, keys: list[str], args: list[Any]) -> Any:
        """`call` for the hot paths (one enqueue, the claim): the same command, reply and
        errors, sent on a connection of this process and thread's own (FastLane) instead of
        through redis-py's command machinery. On a Cluster (or a client that is not a plain
        redis.Redis, like a test double) it is `call`."""
        lane = self.lane(client)
        if lane is None:
            return self.call(client, name, keys, args)
        keys, args = self.parts(name, keys, args)
        command = ("EVALSHA", self.sha[name], len(keys), *keys, *args)
        try:
            return lane.execute(command)
        except rediserrors.NoScriptError:  # did not run: load it (on every primary), send again
            self.load(client, name)
            return lane.execute(command)

    def fast_batch(self, client: Any, name: str, calls: list[tuple[list[str], list[Any]]]
                   ) -> list[Any] | None:
        """Several calls of one script, sent back to back on the FastLane and their replies
        read after (errors returned in place, NOSCRIPT ones loaded and sent again); None on
        a client without a lane (the caller uses a pipeline then)."""
        lane = self.lane(client)
        if lane is None:
            return None
        commands = []
        for keys, args in calls:
            keys, args = self.parts(name, keys, args)
            commands.append(("EVALSHA", self.sha[name], len(keys), *keys, *args))
        replies = lane.execute_many(commands)
        missing = [i for i, reply in enumerate(replies)
                   if isinstance(reply, rediserrors.NoScriptError)]
        if missing:  # none of those ran
            self.load(client, name)
            for i, reply in zip(missing, lane.execute_many([commands[i] for i in missing]),
                                strict=True):
                replies[i] = reply
        return replies

    def can_send_ahead(self, client: Any) -> bool:
        """Whether `send_ahead` overlaps the call with the caller's work (taskq.wire's
        client; any other would wait at once)."""
        return isinstance(client, WireClient)

    def send_ahead(self, client: Any, name: str, keys: list[str], args: list[Any]) -> Ahead:
        """`fast_call` whose reply is read later (`Ahead.result()`, on the same thread):
        the server runs the script while the caller works. Only where can_send_ahead."""
        keys, args = self.parts(name, keys, args)
        command = ("EVALSHA", self.sha[name], len(keys), *keys, *args)
        return Ahead(self, client, name, command, client.send_ahead(command))

    def lane(self, client: Any) -> Any:
        """What sends this client's hot commands: a taskq.wire client sends them itself;
        a plain redis.Redis gets a FastLane; anything else (a Cluster, a test double) None."""
        if isinstance(client, WireClient):
            return client  # (not cached: a weak key's value must not hold the key)
        try:
            return self._lanes[client]
        except KeyError:
            lane = self._lanes[client] = FastLane.for_client(client)
            return lane

    def queue_source(self, pipe: Any, name: str, keys: list[str], args: list[Any]) -> None:
        """Add a call by source (EVAL) to a pipeline: it can never fail with NOSCRIPT, for a
        script that must run right before the next command (the BLMOVE guard)."""
        self._send(pipe, list(self.source_command(name, keys, args)), keys)

    def source_command(self, name: str, keys: list[str], args: list[Any]) -> tuple[Any, ...]:
        """The raw EVAL of a script by its source (see queue_source)."""
        return ("EVAL", self.source[name], len(keys), *keys, *args)

    async def acall(self, client: Any, name: str, keys: list[str], args: list[Any]) -> Any:
        """`call` on a redis.asyncio client."""
        keys, args = self.parts(name, keys, args)
        try:
            return await client.evalsha(self.sha[name], len(keys), *keys, *args)
        except rediserrors.NoScriptError:
            await client.script_load(self.source[name])
            return await client.evalsha(self.sha[name], len(keys), *keys, *args)

    def queue(self, pipe: Any, name: str, keys: list[str], args: list[Any]) -> None:
        """Add a call to a pipeline; run it with `run_pipeline` to survive NOSCRIPT. The call
        is remembered here by its position, since a Cluster's pipeline keeps its commands
        differently from a plain one."""
        command = self.command(name, keys, args)
        self._queued.setdefault(pipe, {})[len(pipe)] = command
        self._send(pipe, command, keys)

    @staticmethod
    def _send(pipe: Any, command: list[Any], keys: list[str]) -> None:
        """Stage a script call. A Cluster's pipeline refuses .eval()/.evalsha() but routes
        the raw command; naming its node there spares a COMMAND GETKEYS round trip."""
        if is_cluster(pipe) and keys:
            pipe.execute_command(*command, target_nodes=pipe.get_node_from_key(keys[0]))
        else:
            pipe.execute_command(*command)

    def load(self, client: Any, name: str) -> None:
        """SCRIPT LOAD; a Cluster's client sends it to every primary, so the script is there
        whichever node the call lands on (and after a failover, NOSCRIPT loads it again)."""
        client.script_load(self.source[name])

    def load_all(self, client: Any) -> None:
        if is_cluster(client):  # a Cluster's pipeline refuses SCRIPT LOAD
            for name in self.source:
                self.load(client, name)
            return
        pipe = client.pipeline(transaction=False)
        for source in self.source.values():
            pipe.script_load(source)
        pipe.execute()

    def run_pipeline(self, client: Any, pipe: Any, raise_on_error: bool = True) -> list[Any]:
        """Execute a non-transactional pipeline; on NOSCRIPT load every script and rerun
        only the script calls that failed with it (they did not run). With `raise_on_error`
        False, errors are returned in place, so the replies of the others are not lost."""
        calls = self._queued.pop(pipe, {})
        results = pipe.execute(raise_on_error=False)
        missing = [i for i, r in enumerate(results) if isinstance(r, rediserrors.NoScriptError)]
        if missing:
            self.load_all(client)
            retry = client.pipeline(transaction=False)
            for i in missing:
                retry.execute_command(*calls[i])
            for i, result in zip(missing, retry.execute(raise_on_error=False), strict=True):
                results[i] = result
        for result in results:
            if isinstance(result, Exception) and raise_on_error:
                raise result
        return results


class Ahead:
    """A script call sent ahead of reading its reply (Scripts.send_ahead)."""

    def __init__(self, scripts: Scripts, client: WireClient, name: str,
                 command: tuple[Any, ...], pending: Any) -> None:
        self.scripts, self.client, self.name = scripts, client, name
        self.command, self.pending = command, pending

    def result(self) -> Any:
        try:
            return self.client.reply_of(self.pending)
        except rediserrors.NoScriptError:  # it did not run: load it and call it now
            self.scripts.load(self.client, self.name)
            return self.client.execute(self.command)


class FastLane:
    """A connection of its own per process and thread, for commands sent often and alone.

    `client.evalsha(...)` spends about as much time in redis-py's machinery (the pool's get
    and release, packing, the retry wrapper, redis-py 8's observability hooks) as on the
    round trip itself; this sends the same command, packed by hiredis, on a dedicated
    connection of the client's pool and reads the reply with the same parser. What stays as
    with the client: the connection's options (timeouts, TLS, auth, a Sentinel's master
    lookup, the health check of an idle connection), the reply and the exceptions
    (ConnectionError and TimeoutError after closing the connection, ResponseError with it
    kept, since a whole reply was read), and no retry at all (taskq's clients have redis-py's
    retries off; the callers decide what may be repeated). Thread-safe (one connection per
    thread) and fork-safe (a forked child opens its own: the pid is checked at each call)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._local = threading.local()

    @classmethod
    def for_client(cls, client: Any) -> FastLane | None:
        """A FastLane for a plain redis-py client; None for any other."""
        redis = sys.modules.get("redis")  # a redis-py client exists only once it is imported
        pool = getattr(client, "connection_pool", None)
        if (redis is None or type(client) is not redis.Redis or pool is None
                or getattr(pool, "cache", None)):
            return None  # a Cluster, a test double, a client-side cache: the client's way
        if type(pool) not in (redis.ConnectionPool, redis.BlockingConnectionPool):
            # A Sentinel's pool: a connection made outside its own get_connection (in a
            # forked worker child) was seen talking to a replica, where scripts are not
            # loaded (NOSCRIPT forever). Its commands go the client's way.
            return None
        return cls(pool)

    def connection(self) -> Any:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():
            # A forked child never touches its parent's socket (it is only dropped here).
            local.conn, local.pid = self.pool.make_connection(), os.getpid()
            conn = local.conn
        return conn

    def execute_many(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send every command, then read every reply (a refused one is returned in place)."""
        conn = self.connection()
        packed = [pack_command(command) for command in commands]
        try:
            conn.send_packed_command(packed)
            replies: list[Any] = []
            for _ in packed:
                try:
                    replies.append(conn.read_response())
                except rediserrors.ResponseError as exc:
                    replies.append(exc)
            return replies
        except BaseException:
            conn.disconnect()
            raise

    def execute(self, command: tuple[Any, ...]) -> Any:
        conn = self.connection()
        packed = pack_command(command)  # the bytes redis-py's packer makes, in C
        try:
            conn.send_packed_command([packed])
            return conn.read_response()
        except rediserrors.ResponseError:
            raise  # a whole reply was read: the connection stays usable
        except BaseException:
            # Connection trouble closed it already; anything else (an interrupt mid-read)
            # may leave a reply behind: never reuse the connection then.
            conn.disconnect()
            raise
