"""One adapter per system. `load(name)` imports benchlib.peers.<name> and builds its Peer."""

from __future__ import annotations

import importlib
import os

from benchlib.peer import Peer

NAMES = ("taskq", "rq", "celery", "dramatiq", "huey", "arq", "saq")


def load(name: str) -> Peer:
    module = importlib.import_module(f"benchlib.peers.{name}_peer")
    return module.Adapter(os.environ["BENCH_REDIS_URL"])  # type: ignore[no-any-return]


def bin_path(tool: str) -> str:
    """A console script of the venv this process runs in."""
    import sys

    return os.path.join(os.path.dirname(sys.executable), tool)
