"""The testing examples of README.md and docs/testing.md are real tests: their `# file:` blocks
are written to a temporary project and run by pytest in a subprocess with no Redis URL, a
bogus embedded-server binary and home, sockets refused, and (where the kernel allows it) no
network at all, so a test that touched a server could only fail."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from taskq.errors import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```python\n# file: (\S+)\n(.*?)```", re.S)

NO_SOCKETS = '''
import socket

def _refuse(*args, **kwargs):
    raise OSError("network is off in this test (taskq.testing must not need it)")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
'''


def files_of(doc: Path) -> dict[str, str]:
    found = dict(BLOCK.findall(doc.read_text()))
    assert found, f"no `# file:` blocks in {doc}"
    return found


def write_project(folder: Path, files: dict[str, str], ini: str = "") -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (folder / "pytest.ini").write_text(
        f"[pytest]\npythonpath = .\nfilterwarnings = error\n{ini}")
    (folder / "site").mkdir()
    (folder / "site" / "sitecustomize.py").write_text(NO_SOCKETS)
    return folder


def run_pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TASKQ_REDIS_URL", "REDIS_URL", "PYTEST_ADDOPTS", "PYTHONPATH")}
    env.update(TASKQ_HOME=str(folder / "no" / "such" / "home"),
               TASKQ_SERVER_BIN=str(folder / "no-such-server"),
               PYTHONPATH=str(folder / "site"))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)]
    if shutil.which("unshare") and subprocess.run(
            ["unshare", "-rn", "true"], capture_output=True).returncode == 0:
        command = ["unshare", "-rn", *command]  # a network namespace with nothing in it
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_documented_tests_pass_with_no_server_and_no_network(tmp_path: Path) -> None:
    readme, guide = files_of(ROOT / "README.md"), files_of(ROOT / "docs/testing.md")
    assert not set(readme) & set(guide)  # one project holds both (one pytest run, not two)
    tests = [name for name in {**readme, **guide} if name.startswith("tests/")]
    assert any(name in readme for name in tests) and any(name in guide for name in tests)
    done = run_pytest(write_project(tmp_path, {**readme, **guide}))
    assert done.returncode == 0, done.stdout + done.stderr
    count = sum(text.count("\ndef test_") for name, text in {**readme, **guide}.items()
                if name.startswith("tests/"))
    assert f"{count} passed" in done.stdout and "warning" not in done.stdout.lower()


def test_the_sandbox_would_catch_a_test_that_needs_a_server(tmp_path: Path) -> None:
    files = {"tests/test_needs_server.py": (
        "import taskq\nfrom taskq import task\n\n@task\ndef f() -> None: ...\n\n"
        "def test_enqueue_without_backend():\n    f.delay()\n")}
    done = run_pytest(write_project(tmp_path, files))
    assert done.returncode == 1, done.stdout + done.stderr


def test_the_ini_setting_makes_the_backend_eager(tmp_path: Path) -> None:
    files = {"tests/test_ini.py": (
        "from taskq import task\n\n@task\ndef double(x: int) -> int:\n    return 2 * x\n\n"
        "def test_eager_from_ini(taskq_backend):\n    assert taskq_backend.eager\n"
        "    assert double.delay(21).result() == 42\n")}
    done = run_pytest(write_project(tmp_path, files, ini="taskq_eager = true\n"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_without_fakeredis_the_backend_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "lupa" else real(name, *a))
    from taskq.testing import InMemoryBackend

    with pytest.raises(ConfigurationError, match=r"taskq\[testing\]"):
        InMemoryBackend()
