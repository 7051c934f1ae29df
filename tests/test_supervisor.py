"""Supervisor pieces that need no child processes."""

from __future__ import annotations

import time

from taskq.config import Settings
from taskq.worker.child import ChildSpec
from taskq.worker.supervisor import Child, Supervisor


def test_children_that_keep_dying_young_are_restarted_with_backoff() -> None:
    supervisor = Supervisor(ChildSpec(Settings(url="redis://127.0.0.1:1/0"), ("default",)), 1)
    delays = []
    for _ in range(7):
        child = Child(0, process=None, worker_id="w", slots=None)  # type: ignore[arg-type]
        before = time.monotonic()
        supervisor._schedule_restart(0, child, code=4)
        delays.append(round(supervisor.pending[0] - before, 1))
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    old = Child(0, process=None, worker_id="w", slots=None,  # type: ignore[arg-type]
                started=time.monotonic() - 60)
    supervisor._schedule_restart(0, old, code=-9)  # a long-lived child: replaced at once
    assert supervisor.pending[0] <= time.monotonic()
    assert supervisor.quick_deaths[0] == 0
