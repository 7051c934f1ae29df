"""What the web app shares between requests: the store (sync, for the admin read views, run
in a thread), a redis.asyncio client (for following the event streams), and the switches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from taskq.admin import inspect
from taskq.config import Settings
from taskq.errors import JobNotFoundError
from taskq.store import RedisStore


@dataclass(frozen=True)
class Scope:
    """What a push channel streams: one job, some queues, or everything (no queue given)."""

    queues: tuple[str, ...] = ()
    job: str | None = None


class Hub:
    def __init__(self, store: RedisStore, aclient: Any, token: str | None,
                 read_only: bool) -> None:
        self.store = store
        self.aclient = aclient
        self.token = token
        self.read_only = read_only

    @property
    def settings(self) -> Settings:
        return self.store.settings

    @property
    def actions_allowed(self) -> bool:
        return not self.read_only and bool(self.token)

    async def read(self, fn: Any, *args: Any) -> Any:
        """Run a sync read view off the event loop."""
        return await run_in_threadpool(fn, *args)

    async def job_queue(self, job_id: str) -> str:
        return str(await self.read(
            lambda: inspect.find_queue(self.store, job_id, inspect.queue_names(self.store))))

    async def snapshot(self, scope: Scope) -> dict[str, Any]:
        """The state a page starts from (or starts again from after a trimmed stream)."""
        if scope.job:
            try:
                story = await self.read(inspect.job_story, self.store, scope.job, scope.queues)
            except JobNotFoundError as exc:
                return {"job": None, "error": str(exc)}
            return {"job": story.as_dict()}
        return {"queues": await self.overview(scope.queues)}

    async def overview(self, queues: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        def rows() -> list[dict[str, Any]]:
            names = inspect.queue_names(self.store, queues)
            return [row.as_dict() for row in inspect.queue_stats(self.store, names)]

        return list(await self.read(rows))
