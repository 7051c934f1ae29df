"""One embedded server per project, found from any sub-folder the way git finds its repository;
read-only commands never start one; a command that starts one says which."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from taskq.config import find_project_home
from taskq.server import EmbeddedServer


def taskq_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`taskq ARGS` run from `folder`, as a user would: no URL or home in the environment."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TASKQ_REDIS_URL", "REDIS_URL", "TASKQ_HOME")}
    return subprocess.run([sys.executable, "-m", "taskq", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A user's project: pyproject.toml at the top, code and tests in sub-folders."""
    root = tmp_path / "shop"
    (root / "src" / "shop" / "views").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    yield root
    EmbeddedServer(root / ".taskq").stop()


def test_home_is_found_by_walking_up_to_the_project_root(project: Path) -> None:
    deep = project / "src" / "shop" / "views"
    assert find_project_home(deep) == project / ".taskq"
    assert find_project_home(project / "tests") == project / ".taskq"
    # A .taskq/ folder marks a project too, and the nearest marker wins.
    (project / "src" / ".taskq").mkdir()
    assert find_project_home(deep) == project / "src" / ".taskq"


def test_without_any_marker_the_home_is_the_current_folder(tmp_path: Path) -> None:
    lone = tmp_path / "lone"
    lone.mkdir()
    if any((p / "pyproject.toml").exists() or (p / ".taskq").is_dir()
           for p in lone.resolve().parents):
        pytest.skip("the temp folder lies inside a project")
    assert find_project_home(lone) == lone.resolve() / ".taskq"


def test_a_command_from_a_sub_folder_uses_the_projects_server(project: Path) -> None:
    # Given the project's server runs and holds a queue
    url = EmbeddedServer(project / ".taskq").ensure()
    client = redis.Redis.from_url(url)
    client.sadd("taskq:queues", "orders")
    client.close()
    # When a read command runs from deep inside the project
    done = taskq_in(project / "src" / "shop" / "views", "queues", "--json")
    # Then it sees that server's queue, and no second server (or .taskq/) appeared
    assert done.returncode == 0, done.stderr
    assert '"queue": "orders"' in done.stdout
    assert not (project / "src" / "shop" / "views" / ".taskq").exists()
    # and a command names the server it uses
    doctor = taskq_in(project / "src", "doctor")
    assert f"taskq doctor: embedded server in {project / '.taskq'}" in doctor.stdout


def test_read_only_commands_never_start_a_server(project: Path) -> None:
    for args in (("stats",), ("queues",), ("workers",), ("doctor",), ("dead", "list"),
                 ("job", "abc")):
        done = taskq_in(project / "tests", *args)
        assert done.returncode == 3, (args, done.stdout, done.stderr)
        assert "no embedded server is running for" in done.stderr
        assert str(project / ".taskq") in done.stderr
        assert "taskq server" in done.stderr
    assert EmbeddedServer(project / ".taskq").running_url() is None


def test_a_command_that_starts_the_server_says_which(project: Path) -> None:
    done = taskq_in(project / "tests", "dead", "purge", "--all", "--yes")
    assert done.returncode == 0, done.stderr
    assert "embedded-server-started" in done.stderr
    assert str(project / ".taskq") in done.stderr
    assert EmbeddedServer(project / ".taskq").running_url() is not None
