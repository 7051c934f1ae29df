"""`Job`: the handle `delay()`, `enqueue()` and `get_job()` return: id, status, result,
cancel.

Each read has an async twin (`aresult`, `astatus`) on redis.asyncio, for code that runs an
event loop."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Literal

from taskq.errors import JobFailedError, JobNotFoundError, ResultTimeoutError
from taskq.store import RedisStore

if TYPE_CHECKING:
    from taskq.events import Event
    from taskq.store.aio import AsyncStore
# taskq.events is imported by the two methods that read events: a worker, which builds Jobs
# (workflows, periodic ticks) but never reads their events, does not hold it.

ENDED = ("done", "dead", "cancelled", "expired")
CancelOutcome = Literal["cancelled", "requested", "done", "dead", "expired"]


class Job:
    """A handle on one enqueued job. Cheap: it holds only the id, queue and a store.

    `existing` is True when the enqueue that returned this handle found a job already holding
    its `unique_key` or `idempotency_key` and added nothing."""

    def __init__(self, job_id: str, queue: str, store: RedisStore | None = None,
                 astore: AsyncStore | None = None, *, existing: bool = False) -> None:
        self.id = job_id
        self.queue = queue
        self.existing = existing
        self._given_store = store
        self._astore = astore
        self._record: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, queue={self.queue!r})"

    @property
    def _store(self) -> RedisStore:
        if self._given_store is None:
            from taskq.producer import default_store

            self._given_store = default_store()
        return self._given_store

    async def _async_store(self) -> AsyncStore:
        if self._astore is None:
            from taskq.producer import default_async_store

            self._astore = await default_async_store()
        return self._astore

    def _missing(self) -> JobNotFoundError:
        return JobNotFoundError(
            f"no job {self.id} in queue {self.queue!r}: wrong id, or its result expired")

    def refresh(self) -> dict[str, str]:
        """Read the job's record from Redis (one round trip) and return it."""
        record = self._store.job_record(self.queue, self.id)
        if not record:
            raise self._missing()
        self._record = record
        return record

    def status(self) -> str:
        """queued, scheduled, active, done, dead, cancelled or expired."""
        return self.refresh()["status"]

    async def astatus(self) -> str:
        record = await (await self._async_store()).job_record(self.queue, self.id)
        if not record:
            raise self._missing()
        self._record = record
        return record["status"]

    def progress(self) -> Any:
        """What the task last gave `current_job().set_progress()`: a fraction, a dict, or
        None (one round trip)."""
        return json.loads(self.refresh().get("progress", "null"))

    def meta(self) -> dict[str, Any]:
        """The metadata the task set with `current_job().set_meta(...)` (one round trip)."""
        return dict(json.loads(self.refresh().get("meta", "{}")))

    def history(self) -> list[dict[str, Any]]:
        return self._store.history(self.queue, self.id)

    def cancel(self, force: bool = False) -> CancelOutcome:
        """Cancel the job, decided once on the server. A queued or scheduled job is removed
        and ends `cancelled` ("cancelled"); a running one is told (`current_job().cancelled`)
        and, with `force`, its worker child is killed within about a second and the job ends
        `cancelled`, never retried ("requested"). A job that already ended is left alone and
        its status returned ("done", "dead", "expired", or "cancelled")."""
        outcome = self._store.cancel(self.queue, self.id, force)
        if outcome == "missing":
            raise self._missing()
        return outcome  # type: ignore[return-value]

    def result(self, timeout: float | None = None) -> Any:
        """The task's return value. Blocks on the server (no polling) until the job is done,
        up to `timeout` seconds (None: forever). Raises JobFailedError for a job that ended
        dead, cancelled or expired, and ResultTimeoutError when time runs out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            done, value, left = self._outcome(self._store.watch(self.queue, self.id),
                                              deadline, timeout)
            if done:
                return value
            # Block on the server until the job ends; wake at least every 5 s to re-read.
            self._store.wait_for_end(self.queue, self.id, left)

    async def aresult(self, timeout: float | None = None) -> Any:
        """`result()` for async code: awaits the job's end on redis.asyncio, so the event
        loop runs on while it waits."""
        store = await self._async_store()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            done, value, left = self._outcome(await store.watch(self.queue, self.id),
                                              deadline, timeout)
            if done:
                return value
            await store.wait_for_end(self.queue, self.id, left)

    def _outcome(self, record: dict[str, str], deadline: float | None,
                 timeout: float | None) -> tuple[bool, Any, float]:
        """(True, result, 0) for a done job; raises for a dead one or when time is up; else
        (False, None, seconds to wait for the end signal)."""
        if not record:
            raise self._missing()
        self._record = record
        if record["status"] == "done":
            return True, json.loads(record.get("result", "null")), 0.0
        if record["status"] in ENDED:  # dead, cancelled, expired
            raise JobFailedError(self.id, record["status"],
                                 record.get("error") or record.get("reason"))
        left = 5.0 if deadline is None else deadline - time.monotonic()
        if left <= 0:
            raise ResultTimeoutError(
                f"job {self.id} is still {record['status']} after {timeout} s")
        return False, None, min(left, 5.0)

    def events(self, follow: bool = False, since: str | None = None) -> Iterator[Event]:
        """This job's events still kept in its queue's stream, oldest first (`since`: an
        event id or a duration like '5m'); with `follow`, then each new one as it happens,
        until the job ends (succeeded, dead). Reading the kept events scans the queue's
        stream (at most Settings.events_maxlen entries)."""
        from taskq.events import END_EVENTS, START, Cursor, EventFeed, since_id

        feed = EventFeed(self._store, (self.queue,), job=self.id)
        cursor = Cursor({self.queue: since_id(since) if since else START})
        last: Event | None = None
        while True:  # the kept events, in pages, until the stream has no more
            batch = feed.read(cursor)
            yield from batch
            last = batch[-1] if batch else last
            if feed.last_count == 0:
                break
        if follow and not (last and last.event in END_EVENTS):
            yield from feed.follow(cursor, stop_at_end=True, check_gaps=False)

    async def aevents(self, follow: bool = False, since: str | None = None
                      ) -> AsyncIterator[Event]:
        """`events()` on redis.asyncio, for async web apps (its own connection, closed at
        the end)."""
        from taskq.connection import connect_async, resolve_url
        from taskq.events import END_EVENTS, START, AsyncEventFeed, Cursor, since_id

        settings = self._store.settings
        client = connect_async(resolve_url(settings), settings)
        feed = AsyncEventFeed(self._store, client, (self.queue,), job=self.id)
        cursor = Cursor({self.queue: since_id(since) if since else START})
        last: Event | None = None
        try:
            while True:
                batch = await feed.read(cursor)
                for event in batch:
                    yield event
                last = batch[-1] if batch else last
                if feed.last_count == 0:
                    break
            if follow and not (last and last.event in END_EVENTS):
                async for event in feed.follow(cursor, stop_at_end=True, check_gaps=False):
                    yield event
        finally:
            await client.aclose()


def get_job(job_id: str, queue: str | None = None, *, store: RedisStore | None = None) -> Job:
    """The job with this id, from the id alone: what a web view that shows or cancels a job
    needs. Ids taskq generates name their queue, so the lookup is one EXISTS in that queue's
    slot (Cluster-safe); for an id you chose (`job_id=`), give `queue`, or every known queue
    is checked. Raises JobNotFoundError when no record is left (wrong id, or expired)."""
    from taskq.keys import check_queue_name
    from taskq.producer import default_store

    store = store or default_store()
    found = store.find_job_queue(job_id, [check_queue_name(queue)] if queue else [])
    if found is None:
        where = f"queue {queue!r}" if queue else "any queue"
        raise JobNotFoundError(
            f"no job {job_id} in {where}: wrong id, or it finished more than the result TTL "
            f"ago and its record expired")
    return Job(job_id, found, store)
