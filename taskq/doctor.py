"""Checks on the server taskq is pointed at."""

from __future__ import annotations

from taskq.config import Settings


def warn_at_start(settings: Settings) -> None:
    """Log a warning for each problem that can lose jobs (filled in by the doctor)."""
