"""Dramatiq with RedisBroker: `actor.send()`; no bulk enqueue (group().run() sends one by
one); worker `dramatiq MODULE` (processes x threads)."""

from __future__ import annotations

import os
from importlib.metadata import version

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from benchlib import sink
from benchlib.peer import Args, WorkerConfig
from benchlib.peers import bin_path

# The failure-mode case's worker: a dead worker's unacked messages come back once its
# heartbeat is 10 s old (default 60 s), found by maintenance on 10% of commands (default 0.1%).
RELIABLE = {"heartbeat_timeout": 10_000, "maintenance_chance": 100_000}
broker = RedisBroker(url=os.environ["BENCH_REDIS_URL"],
                     **(RELIABLE if os.environ.get("BENCH_RELIABLE") else {}))
dramatiq.set_broker(broker)


@dramatiq.actor
def noop() -> None:
    pass


@dramatiq.actor
def mark(name: str) -> None:
    sink.mark(name)


@dramatiq.actor
def latency(sent_at: float) -> None:
    sink.latency(sent_at)


@dramatiq.actor
def call() -> None:
    sink.call()


@dramatiq.actor
def work(job: int, ms: int) -> None:
    sink.work(job, ms)


TASKS = {"noop": noop, "mark": mark, "latency": latency, "call": call}


class Adapter:
    name = "dramatiq"
    bulk_api = None
    pending_key = ("list", "dramatiq:default")

    def __init__(self, url: str) -> None:
        self.url = url

    def version(self) -> str:
        return version("dramatiq")

    def enqueue_each(self, task: str, n: int, args: Args) -> None:
        fn = TASKS[task]
        for _ in range(n):
            fn.send(*args())

    def enqueue_bulk(self, task: str, n: int, args: Args, batch: int) -> None:
        raise NotImplementedError

    def worker_configs(self) -> list[WorkerConfig]:
        base = [bin_path("dramatiq"), __name__]
        cores = str(os.cpu_count() or 1)
        return [
            WorkerConfig("default", [*base, "-p", "1"], "dramatiq -p 1 (8 threads)"),
            WorkerConfig("p2-t1", [*base, "-p", cores, "-t", "1"], f"dramatiq -p {cores} -t 1"),
            WorkerConfig("p2-t8", [*base, "-p", cores],
                         f"dramatiq -p {cores} (default: one per core, 8 threads)"),
        ]

    def reliable_config(self) -> WorkerConfig:
        """Dramatiq acks after the actor returns (at-least-once by default); a dead worker's
        messages are requeued by broker maintenance after its heartbeat timeout."""
        return WorkerConfig("reliable", [bin_path("dramatiq"), __name__],
                            "dramatiq (a process per core, 8 threads); heartbeat_timeout "
                            "10 s, maintenance_chance 10%", env={"BENCH_RELIABLE": "1"})

    def enqueue_work(self, jobs: list[tuple[int, int]]) -> None:
        for job, ms in jobs:
            work.send(job, ms)

    def close(self) -> None:
        broker.close()
