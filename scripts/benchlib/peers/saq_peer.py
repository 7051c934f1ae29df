"""SAQ: `await queue.enqueue(name)`; no bulk enqueue (Queue.map also waits for results);
worker `saq MODULE.settings`."""

from __future__ import annotations

import asyncio
import os
from importlib.metadata import version
from typing import Any

from saq import Queue

from benchlib import sink
from benchlib.peer import Args, WorkerConfig
from benchlib.peers import bin_path


async def noop(ctx: dict[str, Any]) -> None:
    pass


async def mark(ctx: dict[str, Any], *, name: str) -> None:
    sink.mark(name)


async def latency(ctx: dict[str, Any], *, sent_at: float) -> None:
    sink.latency(sent_at)


async def call(ctx: dict[str, Any]) -> None:
    await sink.acall()


async def io(ctx: dict[str, Any]) -> None:
    await sink.io_wait()


async def work(ctx: dict[str, Any], *, job: int, ms: int) -> None:
    await sink.awork(job, ms)


settings = {"queue": Queue.from_url(os.environ["BENCH_REDIS_URL"]),
            "functions": [noop, mark, latency, io, call], "concurrency": 10}
settings_big = {**settings, "concurrency": 50}
# A killed worker's active job is "stuck" once past its timeout (10 s by default) and is
# retried by the next sweep (timer 60 s, cut to 5 s; sweeps also hold a 60 s lock).
settings_reliable = {**settings, "functions": [work], "timers": {"sweep": 5}}
PARAM = {"mark": "name", "latency": "sent_at"}


class Adapter:
    name = "saq"
    bulk_api = None
    pending_key = ("list", "saq:default:queued")

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.queue = Queue.from_url(url)
        self.loop.run_until_complete(self.queue.connect())

    def version(self) -> str:
        return version("saq")

    def enqueue_each(self, task: str, n: int, args: Args) -> None:
        async def run() -> None:
            enqueue, param = self.queue.enqueue, PARAM.get(task)
            for _ in range(n):
                values = args()
                await (enqueue(task, **{param: values[0]}) if param else enqueue(task))

        self.loop.run_until_complete(run())

    def enqueue_bulk(self, task: str, n: int, args: Args, batch: int) -> None:
        raise NotImplementedError

    def worker_configs(self) -> list[WorkerConfig]:
        base = [bin_path("saq"), f"{__name__}.settings"]
        cores = str(os.cpu_count() or 1)
        return [
            WorkerConfig("default", base, "saq (1 process, concurrency 10)"),
            WorkerConfig("w2", [*base, "--workers", cores], f"saq --workers {cores}"),
            WorkerConfig("w2-c50", [bin_path("saq"), f"{__name__}.settings_big", "--workers",
                                    cores], f"saq --workers {cores}, concurrency 50"),
        ]

    def io_configs(self) -> list[tuple[WorkerConfig, str]]:
        cores = str(os.cpu_count() or 1)
        return [(WorkerConfig("async10", [bin_path("saq"), f"{__name__}.settings", "--workers",
                                          cores], f"saq --workers {cores}, concurrency 10"), "io"),
                (WorkerConfig("async50", [bin_path("saq"), f"{__name__}.settings_big",
                                          "--workers", cores],
                              f"saq --workers {cores}, concurrency 50"), "io")]

    def reliable_config(self) -> WorkerConfig:
        return WorkerConfig("reliable", [bin_path("saq"), f"{__name__}.settings_reliable"],
                            "saq (concurrency 10); job timeout 10 s (default), retries=3, "
                            "sweep timer 5 s")

    def enqueue_work(self, jobs: list[tuple[int, int]]) -> None:
        async def run() -> None:
            for job, ms in jobs:
                await self.queue.enqueue("work", job=job, ms=ms, retries=3)

        self.loop.run_until_complete(run())

    def close(self) -> None:
        self.loop.run_until_complete(self.queue.disconnect())
        self.loop.close()
