"""The producer's side of the store on redis.asyncio: enqueue, read, wait for the end.

For web apps and scripts that run an event loop: `await task.adelay(...)` and
`await job.aresult()` never block the loop. The scripts are the same Lua files, with the same
KEYS and ARGV (built by the same functions), so an async enqueue is the same transition as a
sync one. Workers do not use this: their store is the synchronous one (see worker/aio.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity import wait_exponential as backoff

from taskq.config import Settings
from taskq.errors import StoreConnectionError, StoreError
from taskq.job import Payload
from taskq.keys import Keys
from taskq.scripting import Scripts
from taskq.store.base import TRANSIENT_REPLIES, _text
from taskq.store.reads import pairs, record_view
from taskq.store.transitions import enqueue_parts


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        return StoreConnectionError(f"Redis did not answer: {exc}")
    if isinstance(exc, redis.ResponseError) and str(exc).startswith(TRANSIENT_REPLIES):
        return StoreConnectionError(f"Redis cannot serve now: {exc}")
    return StoreError(f"Redis error: {exc}")


class AsyncStore:
    """One redis.asyncio client's view of taskq's state, for producers."""

    def __init__(self, client: Any, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.scripts = Scripts(self.keys, settings.events_maxlen, settings.events_max_age)
        self._known_queues: set[str] = set()

    async def _call(self, name: str, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self.scripts.acall(self.client, name, keys, args)
        except redis.RedisError as exc:
            raise _translate(exc) from exc

    async def enqueue(self, payloads: Sequence[Payload]) -> list[Any]:
        """Per job: 1, or the status of a pending job with that id. One script call per job
        (pipelined); retried on connection trouble like the sync enqueue (the script
        recognises its own earlier landing by a token)."""
        async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(StoreConnectionError), stop=stop_after_attempt(4),
                wait=backoff(multiplier=0.05, max=1.0), reraise=True):
            with attempt:
                return await self._enqueue_once(payloads)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _enqueue_once(self, payloads: Sequence[Payload]) -> list[Any]:
        new_queues = {p.queue for p in payloads} - self._known_queues
        try:
            if new_queues:
                await self.client.sadd(self.keys.queues(), *new_queues)
                self._known_queues |= new_queues
        except redis.RedisError as exc:
            raise _translate(exc) from exc
        results = []
        for payload in payloads:
            keys, args = enqueue_parts(self.keys, payload)
            results.append(_text(await self._call("enqueue", keys, args)))
        return results

    async def job_record(self, queue: str, job_id: str) -> dict[str, str]:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hgetall(self.keys.job(queue, job_id))
                pipe.hget(self.keys.running(queue), job_id)
                record, running = await pipe.execute()
        except redis.RedisError as exc:
            raise _translate(exc) from exc
        return record_view(record, running)

    async def watch(self, queue: str, job_id: str) -> dict[str, str]:
        """Mark the job as waited for (watch.lua) and return its hash."""
        return pairs(await self._call("watch", [self.keys.job(queue, job_id)], []))

    async def wait_for_end(self, queue: str, job_id: str, timeout: float) -> bool:
        """Await (not block) the job's end signal, as the sync store does with BLMOVE."""
        key = self.keys.notify(queue, job_id)
        try:
            return await self.client.blmove(key, key, timeout, "RIGHT", "LEFT") is not None
        except redis.RedisError as exc:
            raise _translate(exc) from exc

    async def close(self) -> None:
        await self.client.aclose()
