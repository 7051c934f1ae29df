"""The store is the only writer of queue state (issue 8, point 9): no module outside
taskq/store runs a transition script."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_module_outside_the_store_calls_a_transition_script() -> None:
    calls = re.compile(r"scripts\.(call|queue|queue_source|command|run_pipeline)\(")
    offenders = []
    for path in (ROOT / "taskq").rglob("*.py"):
        rel = path.relative_to(ROOT / "taskq").as_posix()
        if rel.startswith("store/") or rel == "scripting.py":
            continue
        if calls.search(path.read_text()):
            offenders.append(rel)
    assert offenders == []
