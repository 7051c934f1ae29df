"""Celery with the Redis broker: `task.delay()`; no bulk enqueue (group() publishes one message
per task); worker `celery -A MODULE worker` (prefork pool)."""

from __future__ import annotations

import os
from importlib.metadata import version

from celery import Celery

from benchlib import sink
from benchlib.peer import Args, WorkerConfig
from benchlib.peers import bin_path

app = Celery("bench", broker=os.environ["BENCH_REDIS_URL"])
app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True,
                worker_hijack_root_logger=True)


@app.task
def noop() -> None:
    pass


@app.task
def mark(name: str) -> None:
    sink.mark(name)


@app.task
def latency(sent_at: float) -> None:
    sink.latency(sent_at)


TASKS = {"noop": noop, "mark": mark, "latency": latency}


class Adapter:
    name = "celery"
    bulk_api = None  # group(...).apply_async() sends one LPUSH per task
    pending_key = ("list", "celery")

    def __init__(self, url: str) -> None:
        self.url = url

    def version(self) -> str:
        return version("celery")

    def enqueue_each(self, task: str, n: int, args: Args) -> None:
        fn = TASKS[task]
        for _ in range(n):
            fn.delay(*args())

    def enqueue_bulk(self, task: str, n: int, args: Args, batch: int) -> None:
        raise NotImplementedError

    def worker_configs(self) -> list[WorkerConfig]:
        base = [bin_path("celery"), "-A", __name__, "worker", "-l", "warning"]
        lean = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        cores = str(os.cpu_count() or 1)
        return [
            WorkerConfig("default", [*base, "-c", "1"], "celery worker -c 1 (prefork)"),
            WorkerConfig("c2-lean", [*base, "-c", cores, *lean, "--prefetch-multiplier", "32"],
                         f"celery worker -c {cores} --prefetch-multiplier 32 "
                         "--without-gossip/mingle/heartbeat"),
            WorkerConfig("solo-lean", [*base, "-P", "solo", *lean, "--prefetch-multiplier",
                                       "32"],
                         "celery worker -P solo --prefetch-multiplier 32 "
                         "--without-gossip/mingle/heartbeat"),
        ]

    def close(self) -> None:
        pass
