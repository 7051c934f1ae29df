"""Fixtures for the real-browser tier: headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium), `taskq web` and `taskq worker` as real processes.

Without a browser these tests skip, unless TASKQ_REQUIRE_BROWSER=1 (CI sets it), where a
missing browser fails them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import wait_until
from tests.servers import ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "browser-test-token"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


class Process:
    """A taskq command in its own process group, with its output in a file."""

    def __init__(self, args: list[str], url: str, log: Path) -> None:
        self.args, self.url, self.log_path = args, url, log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        env = {**os.environ, "TASKQ_REDIS_URL": self.url, "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen([sys.executable, "-m", "taskq", *self.args], cwd=ROOT,
                                          env=env, stdout=log, stderr=log,
                                          start_new_session=True)
        return self

    def kill(self) -> None:
        if self.popen and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class WebProcess(Process):
    def __init__(self, url: str, log: Path) -> None:
        self.port = free_port()
        super().__init__(["web", "--port", str(self.port), "--token", TOKEN], url, log)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> WebProcess:
        super().start()

        def answers() -> bool:
            try:
                with urllib.request.urlopen(self.base + "api/overview", timeout=2) as r:
                    return bool(r.status == 200)
            except OSError:
                assert self.popen and self.popen.poll() is None, self.log()
                return False

        wait_until(answers, "taskq web to answer", interval=0.1)
        return self


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (CHROMIUM and DRIVER):
        if os.environ.get("TASKQ_REQUIRE_BROWSER"):
            pytest.fail("no chromium/chromedriver (apt-get install chromium chromium-driver)")
        pytest.skip("no headless browser here (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,860", "--disable-gpu"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def web(server: ServerProcess, redis_client: Any, tmp_path: Path) -> Iterator[WebProcess]:
    proc = WebProcess(server.url, tmp_path / "web.log").start()
    yield proc
    proc.kill()


@pytest.fixture
def worker(server: ServerProcess, redis_client: Any, tmp_path: Path) -> Iterator[Process]:
    proc = Process(["worker", "tests.sample_tasks", "-c", "1", "--log-level", "warning"],
                   server.url, tmp_path / "worker.log").start()
    yield proc
    proc.kill()
