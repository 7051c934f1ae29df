"""RQ: `Queue.enqueue`, `Queue.enqueue_many`; worker `rq worker` (forks a work horse per job)."""

from __future__ import annotations

import os
from importlib.metadata import version

from redis import Redis
from rq import Queue, Retry

from benchlib import sink
from benchlib.peer import Args, WorkerConfig
from benchlib.peers import bin_path


def noop() -> None:
    pass


def mark(name: str) -> None:
    sink.mark(name)


def latency(sent_at: float) -> None:
    sink.latency(sent_at)


def call() -> None:
    sink.call()


def work(job: int, ms: int) -> None:
    sink.work(job, ms)


TASKS = {"noop": noop, "mark": mark, "latency": latency, "call": call}


class Adapter:
    name = "rq"
    bulk_api = "Queue.enqueue_many (one pipeline per batch)"
    pending_key = ("list", "rq:queue:default")

    def __init__(self, url: str) -> None:
        self.url = url
        self.queue = Queue("default", connection=Redis.from_url(url))

    def version(self) -> str:
        return version("rq")

    def enqueue_each(self, task: str, n: int, args: Args) -> None:
        fn, enqueue = TASKS[task], self.queue.enqueue
        for _ in range(n):
            enqueue(fn, *args())

    def enqueue_bulk(self, task: str, n: int, args: Args, batch: int) -> None:
        fn = TASKS[task]
        for start in range(0, n, batch):
            self.queue.enqueue_many([Queue.prepare_data(fn, args=tuple(args()))
                                     for _ in range(min(batch, n - start))])

    def worker_configs(self) -> list[WorkerConfig]:
        base = [bin_path("rq"), "worker", "-u", self.url, "--logging_level", "WARNING"]
        pool = [bin_path("rq"), "worker-pool", "-u", self.url, "-l", "WARNING"]
        cores = str(os.cpu_count() or 1)
        simple = ["-w", "rq.worker.SimpleWorker"]
        return [
            WorkerConfig("default", [*base, "default"], "rq worker (forks per job)"),
            WorkerConfig("simple", [*base, *simple, "default"],
                         "rq worker -w rq.worker.SimpleWorker (no fork per job)"),
            WorkerConfig("pool-simple", [*pool, "-n", cores, *simple, "default"],
                         f"rq worker-pool -n {cores} -w rq.worker.SimpleWorker"),
        ]

    def reliable_config(self) -> WorkerConfig:
        """RQ's default worker (a work horse forked per job: a killed horse is seen by the
        worker at once); jobs enqueued with retry=Retry(max=3)."""
        return WorkerConfig("reliable", [bin_path("rq"), "worker", "-u", self.url,
                                         "--logging_level", "WARNING", "default"],
                            "rq worker; enqueue(..., retry=Retry(max=3))")

    def enqueue_work(self, jobs: list[tuple[int, int]]) -> None:
        for job, ms in jobs:
            self.queue.enqueue(work, job, ms, retry=Retry(max=3))

    def close(self) -> None:
        self.queue.connection.close()
