"""huey with RedisHuey: calling the task enqueues it; no bulk enqueue (Task.map enqueues one
by one); worker `huey_consumer MODULE.huey`."""

from __future__ import annotations

import os
from importlib.metadata import version

from huey import RedisHuey

from benchlib import sink
from benchlib.peer import Args, WorkerConfig
from benchlib.peers import bin_path

huey = RedisHuey("bench", url=os.environ["BENCH_REDIS_URL"])


@huey.task()
def noop() -> None:
    pass


@huey.task()
def mark(name: str) -> None:
    sink.mark(name)


@huey.task()
def latency(sent_at: float) -> None:
    sink.latency(sent_at)


@huey.task()
def call() -> None:
    sink.call()


@huey.task(retries=3)
def work(job: int, ms: int) -> None:
    sink.work(job, ms)


TASKS = {"noop": noop, "mark": mark, "latency": latency, "call": call}


class Adapter:
    name = "huey"
    bulk_api = None
    pending_key = ("list", "huey.redis.bench")

    def __init__(self, url: str) -> None:
        self.url = url

    def version(self) -> str:
        return version("huey")

    def enqueue_each(self, task: str, n: int, args: Args) -> None:
        fn = TASKS[task]
        for _ in range(n):
            fn(*args())

    def enqueue_bulk(self, task: str, n: int, args: Args, batch: int) -> None:
        raise NotImplementedError

    def worker_configs(self) -> list[WorkerConfig]:
        base = [bin_path("huey_consumer"), f"{__name__}.huey", "-q"]
        cores = str(os.cpu_count() or 1)
        return [
            WorkerConfig("default", base, "huey_consumer (1 worker thread)"),
            WorkerConfig("w2-process", [*base, "-w", cores, "-k", "process"],
                         f"huey_consumer -w {cores} -k process"),
            WorkerConfig("w4-thread", [*base, "-w", "4", "-k", "thread"],
                         "huey_consumer -w 4 -k thread"),
        ]

    def reliable_config(self) -> WorkerConfig:
        """huey has no acknowledgement: a task is removed from the queue before it runs, so
        retries=3 covers exceptions, not a killed consumer."""
        return WorkerConfig("reliable", [bin_path("huey_consumer"), f"{__name__}.huey", "-q"],
                            "huey_consumer (1 thread); retries=3")

    def enqueue_work(self, jobs: list[tuple[int, int]]) -> None:
        for job, ms in jobs:
            work(job, ms)

    def close(self) -> None:
        pass
