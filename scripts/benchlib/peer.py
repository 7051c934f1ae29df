"""The small Protocol every peer adapter implements; the cases in cases.py use only this.

An adapter module (benchlib/peers/<name>.py) defines the system's task functions (noop, call,
mark, latency, mix) the way its docs do, and a `Peer` class. Task names are the same for all
peers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Args = Callable[[], Sequence[Any]]


@dataclass(frozen=True)
class WorkerConfig:
    """One way to run the system's CLI worker: `procs` copies of `argv` (most systems fork
    their own children; arq runs one process per CLI invocation)."""

    name: str
    argv: list[str]
    describe: str
    procs: int = 1
    env: dict[str, str] = field(default_factory=dict)


class Peer(Protocol):
    name: str
    bulk_api: str | None  # the documented batch-enqueue call, or None when there is none
    pending_key: tuple[str, str]  # (redis type, key) of the ready queue, for drain checks

    def version(self) -> str: ...

    def enqueue_each(self, task: str, n: int, args: Args) -> None:
        """n jobs, one enqueue call per job, as a web request would do it."""

    def enqueue_bulk(self, task: str, n: int, args: Args, batch: int) -> None:
        """n jobs through the bulk API, `batch` per call."""

    def worker_configs(self) -> list[WorkerConfig]:
        """The default config first, then the candidates tried for 'best'."""

    def close(self) -> None: ...
