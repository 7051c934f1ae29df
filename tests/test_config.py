"""Settings: built from URL or environment, validated at start, secrets never shown."""

from __future__ import annotations

import pytest

from taskq.config import Settings, redact_url
from taskq.errors import ConfigurationError


@pytest.mark.parametrize("url", [
    "redis://localhost:6379/0", "rediss://user:secret@cache.example.com:6380/2",
    "unix:///var/run/redis.sock", "redis://:pw@127.0.0.1",
])
def test_given_valid_urls_when_building_settings_then_accepted(url: str) -> None:
    assert Settings.from_url(url).url == url


@pytest.mark.parametrize("url, message", [
    ("http://localhost", "must start with redis://"),
    ("redis://", "has no host"),
    ("redis://localhost:notaport", "Port could not be cast"),
    ("redis://localhost/abc", "database number"),
    ("unix://", "socket path"),
])
def test_given_bad_urls_when_building_settings_then_error_says_what_to_fix(
        url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_url(url)


def test_env_prefers_taskq_url_over_redis_url() -> None:
    env = {"TASKQ_REDIS_URL": "redis://a:1/0", "REDIS_URL": "redis://b:2/0"}
    assert Settings.from_env(env).url == "redis://a:1/0"
    assert Settings.from_env({"REDIS_URL": "redis://b:2/0"}).url == "redis://b:2/0"
    assert Settings.from_env({}).url is None  # embedded server


def test_env_sets_prefix_and_home() -> None:
    settings = Settings.from_env({"TASKQ_PREFIX": "app1", "TASKQ_HOME": "/tmp/x"})
    assert settings.prefix == "app1"
    assert str(settings.home) == "/tmp/x"


def test_password_never_in_repr_or_safe_url() -> None:
    settings = Settings.from_url("rediss://alice:hunter2@host:6380/1")
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in settings.safe_url
    assert "alice:***@host:6380" in settings.safe_url
    assert redact_url("redis://host:1/0") == "redis://host:1/0"


def test_settings_are_frozen_and_validated() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.prefix = "x"  # type: ignore[misc]
    with pytest.raises(ConfigurationError, match="prefix"):
        Settings(prefix="bad prefix!")
    with pytest.raises(ConfigurationError):
        Settings(lease_ttl=0)


def test_importing_taskq_reads_no_environment_and_opens_no_connection() -> None:
    import subprocess
    import sys

    code = (
        "import socket, os\n"
        "calls = []\n"
        "orig = socket.socket.connect\n"
        "socket.socket.connect = lambda self, *a: calls.append(a) or orig(self, *a)\n"
        "os.environ['TASKQ_REDIS_URL'] = 'not a url'\n"  # would raise if read at import
        "import taskq, taskq.cli, taskq.worker.supervisor, workers.example\n"
        "assert calls == [], calls\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("url, kind, hosts, service, db", [
    ("redis+cluster://10.0.0.1:7000", "cluster", [("10.0.0.1", 7000)], "", 0),
    ("rediss+cluster://u:p@a:7000,b:7001/0", "cluster", [("a", 7000), ("b", 7001)], "", 0),
    ("redis+sentinel://s1:26379,s2:26379/mymaster", "sentinel",
     [("s1", 26379), ("s2", 26379)], "mymaster", 0),
    ("redis+sentinel://:pw@s1:26379/mymaster/3", "sentinel", [("s1", 26379)], "mymaster", 3),
])
def test_given_cluster_and_sentinel_urls_then_hosts_service_and_db_are_read(
        url: str, kind: str, hosts: list[tuple[str, int]], service: str, db: int) -> None:
    from taskq.urls import parse_multi

    assert Settings.from_url(url).url == url
    target = parse_multi(url)
    assert (target.kind, list(target.hosts), target.service, target.db) == (
        kind, hosts, service, db)


@pytest.mark.parametrize("url, message", [
    ("redis+cluster://", "names no host"),
    ("redis+cluster://a:1,b", "must be host:port"),
    ("redis+cluster://a:1/2", "database 0 only"),
    ("redis+sentinel://s1:26379", "needs the service name"),
    ("redis+sentinel://s1:26379/m/x", "database number"),
])
def test_given_bad_cluster_or_sentinel_urls_then_the_error_says_what_to_write(
        url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_url(url)


def test_passwords_of_multi_host_urls_are_hidden() -> None:
    settings = Settings.from_url("redis+sentinel://bob:hunter2@s1:1,s2:2/master/1")
    assert "hunter2" not in repr(settings)
    assert settings.safe_url == "redis+sentinel://bob:***@s1:1,s2:2/master/1"
    target = __import__("taskq.urls", fromlist=["parse_multi"]).parse_multi(
        "rediss+cluster://bob:p%40ss@h:1?ssl_ca_certs=/ca.pem")
    assert target.password == "p@ss"
    assert target.node_url("h", 1) == "rediss://bob:p%40ss@h:1?ssl_ca_certs=/ca.pem"
