"""taskq.contrib.django, run for real: Django's own test runner over a tiny project under
tests/django_project (SQLite, real commits, a real worker from `manage.py taskq worker`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from taskq.store import RedisStore

ROOT = Path(__file__).resolve().parent.parent
PROJECT = Path(__file__).resolve().parent / "django_project"


def django(*args: str, url: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mysite.settings", "SHOP_DB": str(db),
           "SHOP_REDIS_URL": url, "PYTHONPATH": os.pathsep.join([str(PROJECT), str(ROOT)])}
    for name in ("TASKQ_REDIS_URL", "REDIS_URL"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "django", *args], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_djangos_test_runner_passes_the_on_commit_suite(store: RedisStore,
                                                        tmp_path: Path) -> None:
    done = django("test", "shop", "--noinput", "-v", "2", url=store.settings.url or "",
                  db=tmp_path / "shop.sqlite3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Ran 5 tests" in done.stderr and "OK" in done.stderr


def test_manage_py_taskq_reads_the_projects_settings(store: RedisStore, tmp_path: Path) -> None:
    store.client.sadd("shop:queues", "orders")  # the project's prefix is "shop"
    done = django("taskq", "queues", "--json", url=store.settings.url or "",
                  db=tmp_path / "shop.sqlite3")
    assert done.returncode == 0, done.stderr
    assert '"queue": "orders"' in done.stdout
