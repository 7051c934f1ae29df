"""taskq: `@task`, `.delay()`, `.enqueue_many()`; worker `taskq worker MODULE`."""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

from benchlib import roundtrips, sink
from benchlib.peer import Args, WorkerConfig
from benchlib.peers import bin_path
from benchlib.peers.taskq_work import work
from taskq import Settings, configure, task

WORK_MODULE = "benchlib.peers.taskq_work"  # the failure-mode worker imports only this
roundtrips.install()


@task
def noop() -> None:
    pass


@task
def mark(name: str) -> None:
    sink.mark(name)


@task
def latency(sent_at: float) -> None:
    sink.latency(sent_at)


@task
def mix(blob: str) -> None:
    sink.mix(blob)


TASKS: dict[str, Any] = {"noop": noop, "mark": mark, "latency": latency, "mix": mix}
IO_MODULE = "benchlib.peers.taskq_io"  # imported only by the io configs' workers
CALL_MODULE = "benchlib.peers.taskq_call"  # imported only by the one-call configs' workers
MODULE_OF = {"io": IO_MODULE, "io_sync": IO_MODULE, "call": CALL_MODULE}


def task_named(name: str) -> Any:
    if name in MODULE_OF:
        import importlib

        return getattr(importlib.import_module(MODULE_OF[name]), name)
    return TASKS[name]


class Adapter:
    name = "taskq"
    bulk_api = "Task.enqueue_many"
    pending_key = ("list", "taskq:{default}:ready")

    def __init__(self, url: str) -> None:
        self.url = url
        configure(Settings.from_env().with_url(url))  # TASKQ_EVENTS_MAXLEN etc. apply

    def version(self) -> str:
        return version("taskq")

    def enqueue_each(self, task: str, n: int, args: Args) -> None:
        fn = task_named(task)
        for _ in range(n):
            fn.delay(*args())

    def enqueue_bulk(self, task: str, n: int, args: Args, batch: int) -> None:
        fn = task_named(task)
        for start in range(0, n, batch):
            fn.enqueue_many([tuple(args()) for _ in range(min(batch, n - start))])

    def worker_configs(self, modules: tuple[str, ...] = ()) -> list[WorkerConfig]:
        def cfg(name: str, extra: list[str], describe: str) -> WorkerConfig:
            argv = [bin_path("taskq"), "worker", __name__, *modules, "--url", self.url,
                    "--log-level", "warning", *extra]
            return WorkerConfig(name, argv, describe)

        cores = os.cpu_count() or 1
        return [
            cfg("default", ["-c", "1"], "taskq worker -c 1 (one child, 1 thread)"),
            cfg("c2", ["-c", str(cores)], f"taskq worker -c {cores} (default: one per core)"),
            cfg("c3", ["-c", str(cores + 1)], f"taskq worker -c {cores + 1}"),
            cfg("single", ["--single-process"], "taskq worker --single-process (one process)"),
        ]

    def call_configs(self) -> list[WorkerConfig]:
        """The same configs for the one-call case: their workers also import the call task's
        module (and with it redis-py, as any task module holding a client does)."""
        return self.worker_configs((CALL_MODULE,))

    def mix_configs(self) -> list[WorkerConfig]:
        cores = os.cpu_count() or 1
        argv = [bin_path("taskq"), "worker", __name__, "--url", self.url, "--log-level",
                "warning", "-c", str(cores)]
        return [WorkerConfig(f"c{cores}-t{t}", [*argv, "--threads", str(t)],
                             f"taskq worker -c {cores} --threads {t}") for t in (8, 16)]

    def io_configs(self) -> list[tuple[WorkerConfig, str]]:
        """The async I/O mix: coroutines on the event loop, and the same wait on threads."""
        cores = os.cpu_count() or 1
        argv = [bin_path("taskq"), "worker", __name__, IO_MODULE, "--url", self.url,
                "--log-level", "warning", "-c", str(cores)]
        out = []
        for n in (10, 50):
            out.append((WorkerConfig(f"async{n}", [*argv, "--async-concurrency", str(n)],
                                     f"taskq -c {cores} --async-concurrency {n}"), "io"))
            out.append((WorkerConfig(f"threads{n}", [*argv, "--threads", str(n)],
                                     f"taskq -c {cores} --threads {n} (time.sleep)"), "io_sync"))
        return out

    def reliable_config(self) -> WorkerConfig:
        """The failure-mode case: taskq at its defaults (one child per core, lease 5 s,
        3 retries)."""
        return WorkerConfig("reliable", [bin_path("taskq"), "worker", WORK_MODULE, "--url",
                                         self.url, "--log-level", "warning"],
                            "taskq worker (defaults: a child per core, lease 5 s)")

    def reliable_variants(self) -> list[WorkerConfig]:
        """Also measured: the single-process worker (no supervisor process outside it: a
        killed worker's jobs come back when its lease expires)."""
        return [WorkerConfig("single", [bin_path("taskq"), "worker", WORK_MODULE, "--url",
                                        self.url, "--log-level", "warning",
                                        "--single-process"],
                             "taskq worker --single-process (lease 5 s)")]

    def enqueue_work(self, jobs: list[tuple[int, int]]) -> None:
        for job, ms in jobs:
            work.delay(job, ms)

    def close(self) -> None:
        configure(None)
