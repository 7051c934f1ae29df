"""taskq.wire, the client for one plain server: the replies and errors redis-py gives for every
command taskq sends, one connection per thread and per process, trouble never reused, and a
worker process that never imports redis-py."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from taskq import rediserrors, wire
from taskq.config import Settings
from taskq.connection import connect, redis_py_client
from taskq.errors import StoreConnectionError
from taskq.store import RedisStore
from tests import sample_tasks as t

pytestmark = pytest.mark.single_only("taskq.wire serves one plain server; a Cluster is redis-py's")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def pair(server: Any, redis_client: Any) -> tuple[wire.WireClient, Any]:
    """(taskq.wire's client, redis-py's) on the same flushed server."""
    settings = Settings(url=server.url)
    ours = connect(settings)
    assert isinstance(ours, wire.WireClient)
    yield ours, redis_py_client(server.url, settings)
    ours.close()


def _seed(client: Any) -> None:
    client.hset("h", mapping={"a": "1", "b": "2"})
    client.rpush("l", "x", "y", "z")
    client.sadd("s", "m1", "m2")
    client.zadd("z", {"one": 1, "two": 2.5, "three": 3})
    client.set("k", "v")
    client.xadd("st", {"f": "1"})
    client.xadd("st", {"f": "2"})


# Each: (method, args, kwargs). Run on both clients against the same data; replies must match.
READS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("ping", (), {}), ("get", ("k",), {}), ("get", ("nope",), {}),
    ("exists", ("k", "h", "nope"), {}), ("hget", ("h", "a"), {}),
    ("hmget", ("h", ["a", "b", "c"]), {}), ("hmget", ("h", "a", "b"), {}),
    ("hgetall", ("h",), {}), ("hgetall", ("nope",), {}), ("hvals", ("h",), {}),
    ("hlen", ("h",), {}), ("hexists", ("h", "a"), {}), ("hexists", ("h", "q"), {}),
    ("llen", ("l",), {}), ("lrange", ("l", 0, -1), {}), ("lindex", ("l", 1), {}),
    ("smembers", ("s",), {}), ("smembers", ("nope",), {}), ("zcard", ("z",), {}),
    ("zcount", ("z", 2, "+inf"), {}), ("zscore", ("z", "two"), {}),
    ("zscore", ("z", "nope"), {}), ("zrange", ("z", 0, -1), {}),
    ("zrange", ("z", 0, -1), {"withscores": True}),
    ("zrange", ("nope", 0, -1), {"withscores": True}),
    ("zrangebyscore", ("z", "-inf", 2.5), {}),
    ("zrangebyscore", ("z", "-inf", "+inf", 1, 1), {}),
    ("zrangebyscore", ("z", 1, 3), {"withscores": True}),
    ("zrevrangebyscore", ("z", "+inf", "-inf"), {"start": 0, "num": 2, "withscores": True}),
    ("xrevrange", ("st", "+", "-"), {"count": 1}), ("xrevrange", ("nope", "+", "-"), {}),
    ("xrange", ("st",), {}), ("xread", ({"st": "0-0"},), {"count": 5}),
    ("xread", ({"nope": "0-0"},), {"count": 5}),
    ("script_exists", ("0" * 40,), {}), ("config_get", ("maxmemory-policy",), {}),
    ("ttl", ("k",), {}), ("type", ("h",), {}),
]
WRITES: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("hset", ("h2", "f", "1"), {}), ("hset", ("h2",), {"mapping": {"g": 2, "f": 3}}),
    ("hincrby", ("h2", "g", 5), {}), ("expire", ("h2", 100), {}), ("expire", ("nope", 100), {}),
    ("zadd", ("z2", {"a": 1}), {}), ("zadd", ("z2", {"a": 5, "b": 1}), {"xx": True}),
    ("zadd", ("z2", {"a": 7}), {"nx": True}), ("zrem", ("z2", "a"), {}),
    ("sadd", ("s2", "a", "b"), {}),
    ("rpush", ("l2", "a"), {}), ("lpush", ("l2", "b"), {}), ("lrem", ("l2", 0, "a"), {}),
    ("blmove", ("l", "l3", 1, "RIGHT", "LEFT"), {}), ("brpoplpush", ("l", "l3", 1), {}),
    ("set", ("k2", "v"), {}), ("set", ("k2", "w"), {"nx": True}), ("incr", ("n",), {}),
    ("delete", ("k2", "nope"), {}), ("script_load", ("return 1",), {}),
    ("eval", ("return {1, 'a', ARGV[1]}", 0, "b"), {}),
]


def _call(client: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return getattr(client, method)(*args, **kwargs)


@pytest.mark.parametrize(("method", "args", "kwargs"), READS,
                         ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(READS)])
def test_a_read_returns_what_redis_py_returns(pair: Any, method: str, args: Any,
                                              kwargs: Any) -> None:
    ours, theirs = pair
    _seed(theirs)
    assert _call(ours, method, args, kwargs) == _call(theirs, method, args, kwargs)
    pipe = ours.pipeline(transaction=False)
    _call(pipe, method, args, kwargs)
    assert pipe.execute() == [_call(theirs, method, args, kwargs)]


@pytest.mark.parametrize(("method", "args", "kwargs"), WRITES,
                         ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(WRITES)])
def test_a_write_returns_and_does_what_redis_py_does(server: Any, pair: Any, method: str,
                                                     args: Any, kwargs: Any) -> None:
    ours, theirs = pair
    _seed(theirs)
    before = _dump(theirs)
    their_reply = _call(theirs, method, args, kwargs)
    their_state = _dump(theirs)
    server.flush()
    _seed(theirs)
    assert _dump(theirs) == before
    assert _call(ours, method, args, kwargs) == their_reply
    assert _dump(theirs) == their_state


def _dump(client: Any) -> dict[bytes, Any]:
    return {key: client.dump(key) for key in sorted(client.keys("*"))
            if client.type(key) != b"stream"}


def test_info_and_time_have_redis_pys_shapes(pair: Any) -> None:
    ours, theirs = pair
    mine, its = ours.info(), theirs.info()
    assert set(mine) == set(its)
    assert mine["redis_version"] == its["redis_version"]
    assert type(mine["connected_clients"]) is int
    assert ours.info("persistence").keys() == theirs.info("persistence").keys()
    assert [type(x) for x in ours.time()] == [int, int]
    _seed(theirs)
    assert ours.xinfo_stream("st") == theirs.xinfo_stream("st")


def test_error_replies_are_redis_pys_classes_and_messages(pair: Any) -> None:
    ours, theirs = pair
    theirs.set("k", "v")
    cases = [("EVALSHA", "0" * 40, 0), ("HGET", "k", "f"), ("NOSUCHCOMMAND",),
             ("EVAL", "return redis.error_reply('LEASELOST gone')", 0)]
    for command in cases:
        with pytest.raises(redis.RedisError) as theirs_raised:
            theirs.execute_command(*command)
        with pytest.raises(wire.RedisError) as ours_raised:
            ours.execute_command(*command)
        assert type(ours_raised.value).__name__ == type(theirs_raised.value).__name__
        assert str(ours_raised.value) == str(theirs_raised.value)
    # and rediserrors catches both
    for client in (ours, theirs):
        with pytest.raises(rediserrors.NoScriptError):
            client.evalsha("0" * 40, 0)


def test_a_pipeline_returns_errors_in_place_or_raises_the_first(pair: Any) -> None:
    ours, theirs = pair
    theirs.set("k", "v")
    pipe = ours.pipeline(transaction=False)
    pipe.get("k").hget("k", "f").get("k")
    replies = pipe.execute(raise_on_error=False)
    assert replies[0] == replies[2] == b"v"
    assert isinstance(replies[1], wire.ResponseError) and "WRONGTYPE" in str(replies[1])
    pipe.get("k").hget("k", "f")
    with pytest.raises(wire.ResponseError):
        pipe.execute()
    assert ours.get("k") == b"v"  # the connection is still usable
    assert ours.pipeline().execute() == []


def test_each_thread_talks_on_a_connection_of_its_own(pair: Any) -> None:
    ours, _ = pair
    seen: list[object] = []

    def work() -> None:
        ours.ping()
        seen.append(ours.connection())

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ours.ping()
    assert len({id(c) for c in [*seen, ours.connection()]}) == 4


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents_alone(
        pair: Any) -> None:
    ours, theirs = pair
    ours.ping()
    parent = ours.connection()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            ours.rpush("forked", "child")
            code = 0 if ours.connection() is not parent else 3
        except BaseException:
            code = 4
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert ours.connection() is parent
    ours.rpush("forked", "parent")  # the parent's socket was left alone
    assert theirs.lrange("forked", 0, -1) == [b"child", b"parent"]


def test_a_dropped_connection_raises_then_the_next_call_reconnects(pair: Any) -> None:
    ours, theirs = pair
    ours.ping()
    port = ours.connection().sock.getsockname()[1]
    [victim] = [c for c in theirs.client_list() if c["addr"].endswith(f":{port}")]
    theirs.client_kill_filter(_id=victim["id"])
    with pytest.raises(wire.ConnectionError):
        ours.get("k")
    assert ours.ping() is True  # a new connection


def test_a_refused_command_keeps_the_connection(pair: Any) -> None:
    ours, _ = pair
    ours.ping()
    conn = ours.connection()
    with pytest.raises(wire.NoScriptError):
        ours.execute(("EVALSHA", "0" * 40, 0))
    assert ours.connection() is conn


def test_a_server_that_is_gone_is_a_store_connection_error(server: Any) -> None:
    settings = Settings(url=f"redis://127.0.0.1:{_closed_port()}/0")
    store = RedisStore(connect(settings, start=False), settings)
    with pytest.raises(StoreConnectionError):
        store.enqueue([t.add.build([5, 5], None)])


def test_an_idle_connection_to_a_restarted_server_is_replaced_before_use(pair: Any) -> None:
    ours, theirs = pair
    ours.health_check_interval = 0.001
    ours.ping()
    conn = ours.connection()
    port = conn.sock.getsockname()[1]
    theirs.client_kill_filter(_id=next(c["id"] for c in theirs.client_list()
                                       if c["addr"].endswith(f":{port}")))
    assert ours.get("nope") is None  # the stale socket failed its PING and was replaced
    assert ours.connection() is not conn


def test_urls(tmp_path: Path) -> None:
    assert wire.serves("redis://localhost:6379/0")
    assert wire.serves("unix:///tmp/redis.sock?db=2")
    assert not wire.serves("rediss://localhost:6379/0")
    assert not wire.serves("redis://localhost:6379/0?ssl_cert_reqs=none")
    address = wire.Address("redis://us%40r:p%3Ass@h.example:7000/3")
    assert (address.host, address.port, address.db) == ("h.example", 7000, 3)
    assert (address.username, address.password) == ("us@r", "p:ss")
    assert wire.Address("redis://:secret@h").handshake() == [("AUTH", "secret")]
    unix = wire.Address("unix:///tmp/r.sock?db=4")
    assert (unix.path, unix.db) == ("/tmp/r.sock", 4)


def test_auth_and_db_from_the_url(server: Any, redis_client: Any) -> None:
    redis_client.config_set("requirepass", "s3cret")
    try:
        url = re.sub(r"redis://", "redis://:s3cret@", server.url).rsplit("/", 1)[0] + "/5"
        client = wire.WireClient.from_url(url, client_name="taskq")
        client.set("where", "db5")
        assert client.execute(("CLIENT", "GETNAME")) == b"taskq"
        assert redis_client.execute_command("AUTH", "s3cret")
        assert redis_client.get("where") is None  # db 0
        with pytest.raises(wire.AuthenticationError):
            wire.WireClient.from_url(url.replace("s3cret", "wrong")).ping()
        client.close()
    finally:
        redis_client.config_set("requirepass", "")


def test_a_worker_process_never_imports_redis_py(server: Any, redis_client: Any,
                                                 store: RedisStore, tmp_path: Path) -> None:
    """The point of taskq.wire: a worker on one plain server runs jobs (a success, retries
    through the schedule, a dead letter, its start-up checks) without loading redis-py."""
    t.add.delay(1, 2)
    t.boom.delay("retried, then dead")
    t.boom_once.delay("dead at once")
    script = tmp_path / "probe.py"
    script.write_text(
        "import sys, runpy\n"
        "sys.argv = ['taskq', 'worker', 'tests.sample_tasks', '--single-process', '--burst',\n"
        f"            '--wait-scheduled', '5', '--url', {server.url!r}]\n"
        "try:\n"
        "    runpy.run_module('taskq', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('REDIS-PY LOADED' if 'redis' in sys.modules else 'NO REDIS-PY')\n")
    env = {**os.environ, "TASKQ_REDIS_URL": server.url, "PYTHONPATH": str(ROOT)}
    env.pop("TASKQ_CLIENT", None)
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert "NO REDIS-PY" in done.stdout, done.stdout + done.stderr
    keys = store.keys
    assert redis_client.llen(keys.ready("default")) == 0
    assert redis_client.zcard(keys.scheduled("default")) == 0
    assert redis_client.zcard(keys.dead("default")) == 2


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_error_inside_an_array_is_the_same_class_as_redis_pys(pair: Any) -> None:
    ours, theirs = pair
    script = "return {redis.pcall('nosuchcommand'), 1}"
    mine, its = ours.eval(script, 0), theirs.eval(script, 0)
    assert [type(x).__name__ for x in mine] == [type(x).__name__ for x in its]
    assert isinstance(mine[0], wire.ResponseError) and str(mine[0]) == str(its[0])


def test_a_health_check_interrupted_mid_read_never_leaves_its_reply_behind(
        pair: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = pair
    theirs.set("k", "v")
    theirs.set("k2", "w")
    ours.ping()
    ours.health_check_interval = 0.001
    time.sleep(0.01)
    real = wire.Connection.read_reply
    calls = [0]

    def interrupted(self: wire.Connection) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise KeyboardInterrupt  # while reading the PING's reply
        return real(self)

    monkeypatch.setattr(wire.Connection, "read_reply", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ours.get("k")
    monkeypatch.setattr(wire.Connection, "read_reply", real)
    ours.health_check_interval = 0
    assert (ours.get("k"), ours.get("k2")) == (b"v", b"w")


def test_a_call_from_a_signal_handler_mid_command_gets_its_own_reply(pair: Any) -> None:
    ours, theirs = pair
    theirs.set("k", "v")
    seen: dict[str, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        seen["get"] = ours.get("k")
        theirs.rpush("q", "job-1")

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        popped = ours.execute(("BLPOP", "q", 5))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert seen["get"] == b"v"
    assert popped == [b"q", b"job-1"]
    assert ours.get("k") == b"v"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_blocking_move_given_up_never_runs_later_even_with_a_forked_copy(
        server: Any, pair: Any) -> None:
    """A timed-out BLMOVE's connection is shut down, not only closed: a forked child that
    holds a copy of the socket must not keep the command waiting on the server."""
    _, theirs = pair
    impatient = wire.WireClient.from_url(server.url, socket_timeout=0.5)
    impatient.ping()
    pid = os.fork()
    if pid == 0:  # holds a copy of the parent's socket, does nothing
        time.sleep(3)
        os._exit(0)
    try:
        with pytest.raises(wire.TimeoutError):
            impatient.blmove("ready", "active", 5, "RIGHT", "LEFT")
        time.sleep(0.2)
        theirs.rpush("ready", "job-1")
        time.sleep(0.2)
        assert theirs.lrange("ready", 0, -1) == [b"job-1"]
        assert theirs.llen("active") == 0
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        impatient.close()


def test_logins_as_redis_py_makes_them(server: Any, redis_client: Any) -> None:
    base = server.url.split("//", 1)[1]
    # A password on a server that wants none: accepted (the default user is nopass).
    assert wire.WireClient.from_url(f"redis://:anything@{base}").ping() is True
    redis_client.acl_setuser("worker", enabled=True, nopass=True, commands=["+@all"],
                             keys=["*"])
    try:
        client = wire.WireClient.from_url(f"redis://worker@{base}")
        assert client.execute(("ACL", "WHOAMI")) == b"worker"
        client.close()
    finally:
        redis_client.acl_deluser("worker")


def test_refusals_that_pass_are_retried_not_final(store: RedisStore) -> None:
    """READONLY (a failover), OOM, MASTERDOWN: the command did not run; the store says
    'cannot serve now' (StoreConnectionError: retried), though the code is cut off the
    message by both clients."""
    from taskq.store.base import translate_errors

    for reply in ("READONLY You can't write against a read only replica.",
                  "OOM command not allowed when used memory > 'maxmemory'.",
                  "MASTERDOWN Link with MASTER is down"):
        @translate_errors
        def refused(reply: str = reply) -> Any:
            return store.client.eval(f"return redis.error_reply({reply!r})", 0)

        with pytest.raises(StoreConnectionError):
            refused()


def test_a_transaction_is_redis_pys(pair: Any) -> None:
    ours, theirs = pair
    pipe = ours.pipeline()  # redis-py's default: MULTI/EXEC
    pipe.set("a", "1").incr("a")
    assert pipe.execute() == [True, 2]
    assert theirs.get("a") == b"2"
