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
if os.environ.get("BENCH_RELIABLE"):  # the failure-mode case's worker (see reliable_config)
    app.conf.update(broker_transport_options={"visibility_timeout": 10},
                    worker_prefetch_multiplier=1)


@app.task
def noop() -> None:
    pass


@app.task
def mark(name: str) -> None:
    sink.mark(name)


@app.task
def latency(sent_at: float) -> None:
    sink.latency(sent_at)


@app.task
def call() -> None:
    sink.call()


@app.task(acks_late=True, reject_on_worker_lost=True)
def work(job: int, ms: int) -> None:
    sink.work(job, ms)


TASKS = {"noop": noop, "mark": mark, "latency": latency, "call": call}


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

    def reliable_config(self) -> WorkerConfig:
        """Celery's reliability settings: the task acks late and is requeued when its pool
        process dies (reject_on_worker_lost); prefetch 1 (the docs' advice with acks_late);
        the Redis transport's visibility timeout cut from 1 hour to 10 s (the docs: longer
        than the longest task; ours take at most 0.2 s), so that the messages of a dead main
        process come back within the run."""
        return WorkerConfig("reliable", [bin_path("celery"), "-A", __name__, "worker", "-l",
                                         "warning"],
                            "celery worker (prefork, a process per core); acks_late, "
                            "reject_on_worker_lost, prefetch 1, visibility_timeout 10 s",
                            env={"BENCH_RELIABLE": "1"})

    def enqueue_work(self, jobs: list[tuple[int, int]]) -> None:
        for job, ms in jobs:
            work.delay(job, ms)

    def close(self) -> None:
        pass
