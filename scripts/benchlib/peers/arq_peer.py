"""arq: `await pool.enqueue_job(name)`; no bulk enqueue; worker `arq MODULE.WorkerSettings`
(one asyncio process per CLI invocation; scale by running more)."""

from __future__ import annotations

import asyncio
import os
from importlib.metadata import version
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings

from benchlib import sink
from benchlib.peer import Args, WorkerConfig
from benchlib.peers import bin_path


async def noop(ctx: dict[str, Any]) -> None:
    pass


async def mark(ctx: dict[str, Any], name: str) -> None:
    sink.mark(name)


async def latency(ctx: dict[str, Any], sent_at: float) -> None:
    sink.latency(sent_at)


async def call(ctx: dict[str, Any]) -> None:
    await sink.acall()


async def io(ctx: dict[str, Any]) -> None:
    await sink.io_wait()


async def work(ctx: dict[str, Any], job: int, ms: int) -> None:
    await sink.awork(job, ms)


REDIS = RedisSettings.from_dsn(os.environ["BENCH_REDIS_URL"])
LOG = {"version": 1, "disable_existing_loggers": False,
       "handlers": {"h": {"class": "logging.StreamHandler", "level": "WARNING"}},
       "loggers": {"arq": {"handlers": ["h"], "level": "WARNING"}}}


class WorkerSettings:
    functions = [noop, mark, latency, io, call]
    redis_settings = REDIS


class WorkerSettingsBig:  # arq reads only the class's own attributes: no inheritance
    functions = [noop, mark, latency, io, call]
    redis_settings = REDIS
    max_jobs = 100
    poll_delay = 0.05


class WorkerSettingsIO50:
    functions = [noop, mark, latency, io, call]
    redis_settings = REDIS
    max_jobs = 50


class WorkerSettingsReliable:
    """A job's in-progress key lives job_timeout + 10 s; a killed worker's job runs again
    only after it expires: job_timeout cut from 300 s to 10 s (our jobs take <= 0.2 s)."""
    functions = [work]
    redis_settings = REDIS
    job_timeout = 10


class Adapter:
    name = "arq"
    bulk_api = None
    pending_key = ("zset", "arq:queue")

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.pool = self.loop.run_until_complete(create_pool(REDIS))

    def version(self) -> str:
        return version("arq")

    def enqueue_each(self, task: str, n: int, args: Args) -> None:
        async def run() -> None:
            enqueue = self.pool.enqueue_job
            for _ in range(n):
                await enqueue(task, *args())

        self.loop.run_until_complete(run())

    def enqueue_bulk(self, task: str, n: int, args: Args, batch: int) -> None:
        raise NotImplementedError

    def worker_configs(self) -> list[WorkerConfig]:
        def argv(settings: str) -> list[str]:
            return [bin_path("arq"), f"{__name__}.{settings}", "--custom-log-dict",
                    f"{__name__}.LOG"]

        cores = os.cpu_count() or 1
        return [
            WorkerConfig("default", argv("WorkerSettings"), "arq (max_jobs=10, poll 0.5 s)"),
            WorkerConfig("x2", argv("WorkerSettings"), f"{cores} x arq", procs=cores),
            WorkerConfig("x2-big", argv("WorkerSettingsBig"),
                         f"{cores} x arq, max_jobs=100, poll_delay=0.05", procs=cores),
        ]

    def io_configs(self) -> list[tuple[WorkerConfig, str]]:
        cores = os.cpu_count() or 1
        argv = [bin_path("arq"), f"{__name__}.WorkerSettings", "--custom-log-dict",
                f"{__name__}.LOG"]
        argv50 = [bin_path("arq"), f"{__name__}.WorkerSettingsIO50", "--custom-log-dict",
                  f"{__name__}.LOG"]
        return [(WorkerConfig("async10", argv, f"{cores} x arq, max_jobs=10", procs=cores), "io"),
                (WorkerConfig("async50", argv50, f"{cores} x arq, max_jobs=50", procs=cores),
                 "io")]

    def reliable_config(self) -> WorkerConfig:
        return WorkerConfig("reliable", [bin_path("arq"), f"{__name__}.WorkerSettingsReliable",
                                         "--custom-log-dict", f"{__name__}.LOG"],
                            "arq (max_jobs=10); job_timeout 10 s, max_tries 5 (default)")

    def enqueue_work(self, jobs: list[tuple[int, int]]) -> None:
        async def run() -> None:
            for job, ms in jobs:
                await self.pool.enqueue_job("work", job, ms)

        self.loop.run_until_complete(run())

    def close(self) -> None:
        self.loop.run_until_complete(self.pool.aclose())
        self.loop.close()
