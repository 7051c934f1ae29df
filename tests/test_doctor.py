"""`taskq doctor` and the worker's start-up checks: verdicts from facts (unit), and real servers
configured the risky ways (integration)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskq.config import Settings
from taskq.doctor import OK, PROBLEM, WARN, Facts, check_latency, evaluate, warn_at_start
from taskq.log import configure_logging
from tests.servers import ServerProcess, free_port
from tests.test_admin_support import cli

SAFE_INFO = {"redis_version": "7.2.4", "maxmemory_policy": "noeviction", "aof_enabled": 1,
             "role": "master", "cluster_enabled": 0}
SAFE_CONFIG: dict[str, str | None] = {"save": "", "appendfsync": "everysec",
                                      "maxmemory-policy": "noeviction"}


def verdicts(info: dict[str, object] | None = None, config: dict[str, str | None] | None = None
             ) -> dict[str, str]:
    facts = Facts({**SAFE_INFO, **(info or {})}, {**SAFE_CONFIG, **(config or {})})
    return {c.name: c.level for c in evaluate(facts)}


def test_a_safe_server_passes_every_check() -> None:
    assert set(verdicts().values()) == {OK}


@pytest.mark.parametrize(("info", "config", "name", "level"), [
    ({"maxmemory_policy": "allkeys-lru"}, None, "maxmemory-policy", PROBLEM),
    ({"maxmemory_policy": "volatile-ttl"}, None, "maxmemory-policy", PROBLEM),
    ({"aof_enabled": 0}, None, "persistence", PROBLEM),  # and save "" : nothing persists
    ({"aof_enabled": 0}, {"save": "3600 1"}, "persistence", WARN),  # snapshots only
    ({"aof_enabled": 0}, {"save": None}, "persistence", WARN),  # CONFIG disabled: unknown
    (None, {"appendfsync": "no"}, "persistence", WARN),
    ({"redis_version": "6.0.16"}, None, "server", WARN),  # no BLMOVE
    ({"role": "slave"}, None, "role", PROBLEM),
    ({"cluster_enabled": 1}, None, "cluster", PROBLEM),
    ({"maxmemory_policy": None}, {"maxmemory-policy": None}, "maxmemory-policy", WARN),
])
def test_each_risk_gets_its_verdict(info, config, name, level) -> None:
    assert verdicts(info, config)[name] == level


def test_the_version_check_names_valkey() -> None:
    facts = Facts({**SAFE_INFO, "valkey_version": "8.1.0"}, SAFE_CONFIG)
    assert "Valkey 8.1.0" in evaluate(facts)[0].detail


@pytest.fixture
def risky(tmp_path: Path) -> Iterator[ServerProcess]:
    """AOF on (so only the eviction policy is wrong)."""
    proc = ServerProcess(tmp_path / "lru", persistent=True,
                         extra=["--maxmemory-policy", "allkeys-lru"]).start()
    yield proc
    proc.stop()


@pytest.fixture
def safe(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "safe", persistent=True).start()
    yield proc
    proc.stop()


def doctor_json(url: str) -> tuple[int, dict[str, str]]:
    result = cli(url, "doctor", "--json")
    return result.exit_code, {c["name"]: c["level"] for c in json.loads(result.stdout)["checks"]}


def test_doctor_flags_allkeys_lru(risky: ServerProcess) -> None:
    code, levels = doctor_json(risky.url)
    assert code == 1
    assert levels["maxmemory-policy"] == PROBLEM and levels["persistence"] == OK
    out = cli(risky.url, "doctor").output
    assert "allkeys-lru" in out and "CONFIG SET maxmemory-policy noeviction" in out


def test_doctor_flags_persistence_off(server: ServerProcess) -> None:
    """The session server runs with AOF off and no RDB save points."""
    code, levels = doctor_json(server.url)
    assert code == 1 and levels["persistence"] == PROBLEM
    assert "a restart of the server loses every queued job" in cli(server.url, "doctor").output


def test_doctor_passes_a_safe_server(safe: ServerProcess) -> None:
    code, levels = doctor_json(safe.url)
    assert code == 0, levels
    assert levels["lua"] == OK and levels["latency"] in (OK, WARN)
    assert "no problems that can lose jobs" in cli(safe.url, "doctor").output


def test_doctor_on_an_unreachable_server_says_so(tmp_path: Path) -> None:
    result = cli(f"redis://:s3cret@127.0.0.1:{free_port()}/0", "doctor")
    assert result.exit_code == 1
    assert "cannot reach" in result.output and "s3cret" not in result.output


def test_latency_check_reports_the_median(safe: ServerProcess) -> None:
    import redis

    client = redis.Redis.from_url(safe.url)
    check = check_latency(client, pings=3)
    client.close()
    assert "median round trip" in check.detail and "3 PINGs" in check.detail


def captured_warnings(settings: Settings) -> list[dict[str, object]]:
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    try:
        warn_at_start(settings)
    finally:
        configure_logging()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_worker_start_warns_once_per_problem(risky: ServerProcess, tmp_path: Path) -> None:
    events = captured_warnings(Settings(url=risky.url, home=tmp_path))
    assert [(e["event"], e["check"]) for e in events] == [("doctor-problem", "maxmemory-policy")]
    assert events[0]["level"] == "warning"


def test_worker_start_survives_a_server_without_config(tmp_path: Path) -> None:
    """Managed Redis often disables CONFIG: the checks degrade, the start goes on."""
    proc = ServerProcess(tmp_path / "noconfig", extra=["--rename-command", "CONFIG", ""]).start()
    try:
        events = captured_warnings(Settings(url=proc.url, home=tmp_path))
    finally:
        proc.stop()
    checks = {e["check"]: e for e in events}
    assert checks["persistence"]["event"] == "doctor-warn"
    assert "cannot be read" in str(checks["persistence"]["detail"])


def test_worker_start_survives_an_unreachable_server(tmp_path: Path) -> None:
    events = captured_warnings(Settings(url=f"redis://127.0.0.1:{free_port()}/0", home=tmp_path))
    assert [e["event"] for e in events] == ["redis-unreachable"]
