"""`taskq worker` without click (taskq.worker.start) reads its arguments exactly as the click
command does, or hands them to click; and a worker started that way holds no click."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from taskq.commands import main as group
from taskq.store import RedisStore
from taskq.worker.start import DEFAULTS, OPTIONS, NotPlain, parse

ROOT = Path(__file__).resolve().parent.parent
WORKER = group.commands["worker"]


def click_reads(argv: list[str]) -> dict[str, Any] | None:
    """The worker command's parameters as click parses them (None: click refuses)."""
    try:
        ctx = WORKER.make_context("worker", list(argv), resilient_parsing=False)
    except click.exceptions.Exit:
        return None
    except click.ClickException:
        return None
    return dict(ctx.params)


def test_the_plain_parser_knows_every_option_of_the_click_command_and_no_other() -> None:
    click_options = {opt for p in WORKER.params if isinstance(p, click.Option) for opt in p.opts}
    assert set(OPTIONS) == click_options
    assert {p.name for p in WORKER.params} == set(DEFAULTS)
    assert click_reads(["m"]) == {**DEFAULTS, "modules": ("m",)}


@pytest.mark.parametrize("argv", [
    ["workers.example"],
    ["a", "b", "-q", "high", "--queue=low", "-c", "2", "--threads", "4", "--burst"],
    ["a", "-c3", "--single-process", "--log-level", "WARNING", "--log-format=json"],
    ["--url", "redis://h:1/0", "--prefix", "p", "a", "--grace", "0", "--lease", "0.5"],
    ["a", "--wait-scheduled", "2", "--burst", "--max-jobs", "5", "--idle-exit", "1.5"],
    ["a", "--import-from", "workers", "--import-from", "x.y", "--allow-pickle",
     "--unknown-task-grace", "3", "--result-ttl", "60", "--async-concurrency", "7",
     "--ack-window", "0"],
    ["a", "--ack-window=1000"],
    ["a", "--grace", "1e2", "-c", "+2", "--threads", " 3"],
    ["a", "--url="],
])
def test_plain_arguments_parse_as_click_parses_them(argv: list[str]) -> None:
    assert parse(argv) == click_reads(argv)


@pytest.mark.parametrize("argv", [
    ["a", "--help"], ["a", "-h"], ["a", "--nope"], ["a", "-c"], ["a", "-c", "0"],
    ["a", "-c", "x"], ["a", "--lease", "0.01"], ["a", "--idle-exit", "0"],
    ["a", "--log-format", "JSON"], ["a", "--log-level", "loud"], ["a", "--burst=1"],
    ["a", "--", "b"], ["a", "-"], ["a", "--threads", "0"], ["a", "--grace", "-1"],
    ["a", "--result-ttl", "1.5"], ["a", "--ack-window", "1000.5"],
])
def test_anything_else_is_left_to_click(argv: list[str]) -> None:
    with pytest.raises(NotPlain):
        parse(argv)


def test_a_plain_worker_runs_without_click(store: RedisStore) -> None:
    from tests import sample_tasks as t

    job = t.add.delay(2, 3)
    code = (
        "import sys\n"
        "sys.argv = ['taskq', 'worker', 'tests.sample_tasks', '--burst', '--single-process',"
        " '--url', sys.argv[1]]\n"
        "from taskq.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    held = sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'ctypes')"
        " or m.startswith(('taskq.admin', 'taskq.commands', 'multiprocessing')))\n"
        "    print(exc.code, held)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, store.settings.url or ""], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "0 []", done.stderr
    assert job.result(timeout=5) == 5


def test_a_usage_error_reads_as_it_did_through_click() -> None:
    done = subprocess.run([sys.executable, "-m", "taskq", "worker", "--burst"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("Usage: taskq worker [OPTIONS] [MODULES]...\n")
    assert "Error: name the modules that define your tasks" in done.stderr
