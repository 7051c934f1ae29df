"""The event stream, read side: every job state change is appended by the script that makes
it to the queue's stream `{q}:events` (see taskq/lua/emit.lua); this module reads, filters and
follows those streams, synchronously (`EventFeed`) or on redis.asyncio (`AsyncEventFeed`).

Positions. An entry id `<ms>-<seq>` orders one queue's events. A reader of several queues
keeps a **cursor**: the last id it saw per queue, written `queue=id,queue=id` (queue names
never hold `=` or `,`). A queue missing from a cursor started after the cursor was made (the
cursor lists every queue known then), so it is read from its beginning. Resuming from a
cursor returns exactly the events after it, once each, in order per queue (and across queues
by id, which is the server's clock); if a stream was trimmed past the cursor, the feed says
so (`gaps`, `EventsTrimmedError`) rather than skipping silently. (XINFO's max-deleted-entry-id
does not count trimmed entries, so a gap is judged by the oldest entry kept.)
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from taskq.errors import EventCursorError, EventsTrimmedError
from taskq.keys import check_queue_name
from taskq.store import RedisStore, translate_errors
from taskq.topology import is_cluster

# Events after which nothing more happens to a job (unless it is requeued from dead).
END_EVENTS = frozenset({"succeeded", "dead", "purged", "cancelled", "expired"})
_ID_RE = re.compile(r"^\d+-\d+$")
_AGO_RE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
START = "0-0"
EMPTY = "-"  # a cursor made when no queue existed yet
QUEUE_REFRESH = 2.0  # seconds between re-reads of the queue list when following every queue
CLUSTER_POLL = 0.2  # seconds between reads of several queues' streams on a Cluster


def id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True)
class Event:
    """One entry of a queue's stream: `event` happened to job `job` at `at` (server clock)."""

    id: str
    queue: str
    event: str
    job: str
    fields: dict[str, str] = field(default_factory=dict)  # worker, task, due, detail, ...

    @property
    def at(self) -> float:
        return id_key(self.id)[0] / 1000

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "queue": self.queue, "event": self.event, "job": self.job,
                "at": self.at, **self.fields}


@dataclass
class Cursor:
    """The last event id seen, per queue."""

    positions: dict[str, str] = field(default_factory=dict)

    def encode(self) -> str:
        """`queue=id,...`; `-` when it holds no queue (there were none when it was made)."""
        return ",".join(f"{q}={i}" for q, i in sorted(self.positions.items())) or EMPTY

    @classmethod
    def parse(cls, text: str) -> Cursor:
        positions: dict[str, str] = {}
        if text.strip() == EMPTY:
            return cls(positions)
        for part in filter(None, (p.strip() for p in text.split(","))):
            queue, sep, entry_id = part.rpartition("=")
            if not sep or not _ID_RE.match(entry_id):
                raise EventCursorError(
                    f"event cursor part {part!r} is not queue=<ms>-<seq>")
            positions[check_queue_name(queue)] = entry_id
        return cls(positions)

    def advance(self, event: Event) -> None:
        self.positions[event.queue] = event.id

    def position(self, queue: str) -> str:
        return self.positions.get(queue, START)


def since_id(text: str, now: float | None = None) -> str:
    """A stream position from an entry id (`1700000000000-0`), epoch milliseconds, or a
    duration ago (`30s`, `5m`, `2h`, `1d`): the events after it are read."""
    text = text.strip()
    if _ID_RE.match(text):
        return text
    match = _AGO_RE.match(text)
    if match:
        ms = int(((time.time() if now is None else now) - float(match[1]) * _UNIT[match[2]])
                 * 1000)
    elif text.isdigit():
        ms = int(text)
    else:
        raise EventCursorError(
            f"{text!r} is neither an event id (<ms>-<seq>) nor a duration like 30s, 5m, 2h")
    return f"{ms - 1}-18446744073709551615" if ms > 0 else START


def parse_entries(queue: str, entries: list[Any]) -> list[Event]:
    out = []
    for raw_id, raw_fields in entries:
        values = {k.decode(): v.decode(errors="replace") for k, v in raw_fields.items()}
        out.append(Event(raw_id.decode(), queue, values.pop("event", "?"),
                         values.pop("job", "?"), values))
    return out


def merge(batches: list[list[Event]]) -> list[Event]:
    """Events of several queues in one order: by id (the server's clock), then queue."""
    return sorted((e for b in batches for e in b), key=lambda e: (id_key(e.id), e.queue))


def _gap(info: dict[Any, Any] | None, after: str) -> bool:
    """True when entries newer than `after` may have been trimmed away: trimming removes the
    oldest entries, so that happened when the oldest kept entry is newer than `after`
    (`after` itself gone too). Seen only by a reader whose own last entry was trimmed, which
    then reloads a snapshot: never wrong, at worst once too careful."""
    if not info or after == START:
        return False
    first: Any = info.get("first-entry")
    if not first:  # empty: everything was trimmed (by age), maybe newer entries too
        last = info.get("last-generated-id")
        return last is not None and id_key(_text(last)) > id_key(after)
    return id_key(_text(first[0])) > id_key(after)


def _pairs(reply: Any) -> list[Any]:
    """XREAD's reply as (stream, entries) pairs, RESP2 or RESP3."""
    if isinstance(reply, dict):
        return list(reply.items())
    return list(reply or [])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _FeedBase:
    def __init__(self, store: RedisStore, queues: tuple[str, ...] = (), job: str | None = None
                 ) -> None:
        self.store = store
        self.fixed = tuple(check_queue_name(q) for q in queues)
        self.job = job
        self.queues: list[str] = list(self.fixed)
        self._queues_read = float("-inf")
        self.last_count = 0  # entries the last read returned, before the job filter

    def _block_ms(self, block: float | None) -> int | None:
        """XREAD's BLOCK: when following every queue, short enough to notice new queues."""
        if block is None:
            return None
        return max(1, int((block if self.fixed else min(block, QUEUE_REFRESH)) * 1000))

    def _wanted(self, events: list[Event]) -> list[Event]:
        return [e for e in events if self.job is None or e.job == self.job]

    def _streams(self, cursor: Cursor) -> dict[str, str]:
        return {self.store.keys.events(q): cursor.position(q) for q in self.queues}

    def _per_queue(self, client: Any) -> bool:
        """On a Cluster each queue's stream lives in its own slot, and XREAD of several
        slots is refused (CROSSSLOT): then each stream is read on its own, and waiting is a
        short poll (CLUSTER_POLL) instead of a blocking read over all of them."""
        return is_cluster(client) and len(self.queues) > 1

    def _parse_read(self, reply: Any) -> list[Event]:
        by_key = {self.store.keys.events(q): q for q in self.queues}
        batches = [parse_entries(by_key[_text(key)], entries) for key, entries in _pairs(reply)]
        return merge(batches)


class EventFeed(_FeedBase):
    """Reads the events of some queues (all known queues when none are given), optionally of
    one job. Reads only; never changes queue state."""

    @translate_errors
    def refresh_queues(self, force: bool = False) -> list[str]:
        if not self.fixed and (force or time.monotonic() - self._queues_read > QUEUE_REFRESH):
            names = self.store.client.smembers(self.store.keys.queues())
            self.queues = sorted(n.decode() for n in names)
            self._queues_read = time.monotonic()
        return self.queues

    @translate_errors
    def now(self) -> Cursor:
        """A cursor at the newest event of every queue: following it yields what comes next."""
        self.refresh_queues(force=True)
        pipe = self.store.client.pipeline(transaction=False)
        for q in self.queues:
            pipe.xrevrange(self.store.keys.events(q), "+", "-", count=1)
        return Cursor({q: (last[0][0].decode() if last else START)
                       for q, last in zip(self.queues, pipe.execute(), strict=True)})

    def since(self, text: str) -> Cursor:
        position = since_id(text)
        self.refresh_queues(force=True)
        return Cursor(dict.fromkeys(self.queues, position))

    @translate_errors
    def gaps(self, cursor: Cursor) -> list[str]:
        """Queues whose stream was trimmed past the cursor (events lost to this reader)."""
        self.refresh_queues(force=True)
        asked = [q for q in self.queues if cursor.position(q) != START]
        pipe = self.store.client.pipeline(transaction=False)
        for q in asked:
            pipe.xinfo_stream(self.store.keys.events(q))
        infos = pipe.execute(raise_on_error=False)
        return [q for q, info in zip(asked, infos, strict=True)
                if not isinstance(info, Exception) and _gap(info, cursor.position(q))]

    @translate_errors
    def read(self, cursor: Cursor, block: float | None = None, count: int = 500
             ) -> list[Event]:
        """The next events after the cursor (advancing it), waiting up to `block` seconds
        for some when there are none (None: do not wait)."""
        self.refresh_queues()
        self.last_count = 0
        if not self.queues:
            if block:
                time.sleep(min(block, QUEUE_REFRESH))
            return []
        ms = self._block_ms(block)
        client = self.store.client
        if self._per_queue(client):
            reply = self._read_each(cursor, count)
            if not reply and ms:
                time.sleep(min(ms / 1000, CLUSTER_POLL))
                reply = self._read_each(cursor, count)
        else:
            reply = client.xread(self._streams(cursor), count=count, block=ms)
        events = self._parse_read(reply)
        for e in events:
            cursor.advance(e)
        self.last_count = len(events)
        return self._wanted(events)

    def _read_each(self, cursor: Cursor, count: int) -> list[Any]:
        pipe = self.store.client.pipeline(transaction=False)
        for key, position in self._streams(cursor).items():
            pipe.xread({key: position}, count=count)
        return [pair for reply in pipe.execute() for pair in _pairs(reply)]

    @translate_errors
    def recent(self, n: int) -> list[Event]:
        """The newest n events kept (of this job, when one is given), oldest first."""
        self.refresh_queues(force=True)
        found: list[list[Event]] = []
        for q in self.queues:
            key, top = self.store.keys.events(q), "+"
            mine: list[Event] = []
            while len(mine) < n:
                page = parse_entries(q, self.store.client.xrevrange(key, top, "-", count=500))
                mine += self._wanted(page)
                if len(page) < 500:
                    break
                ms, seq = id_key(page[-1].id)
                top = f"{ms}-{seq - 1}" if seq else f"{ms - 1}-18446744073709551615"
            found.append(mine[:n])
        return merge(found)[-n:] if n else []

    def follow(self, cursor: Cursor, stop_at_end: bool = False, block: float = 5.0,
               check_gaps: bool = True) -> Iterator[Event]:
        """Events after the cursor, as they happen, forever (or, with `stop_at_end` and a
        job, until the job ends). EventsTrimmedError when the stream was trimmed past it."""
        if check_gaps:
            lost = self.gaps(cursor)
            if lost:
                raise EventsTrimmedError(lost)
        while True:
            for event in self.read(cursor, block=block):
                yield event
                if stop_at_end and event.event in END_EVENTS:
                    return


class AsyncEventFeed(_FeedBase):
    """EventFeed on a redis.asyncio client (for web apps): the same cursor and semantics.
    `client` is a redis.asyncio.Redis on the store's server; `store` gives keys only."""

    def __init__(self, store: RedisStore, client: Any, queues: tuple[str, ...] = (),
                 job: str | None = None) -> None:
        super().__init__(store, queues, job)
        self.client = client

    async def refresh_queues(self, force: bool = False) -> list[str]:
        if not self.fixed and (force or time.monotonic() - self._queues_read > QUEUE_REFRESH):
            names = await self.client.smembers(self.store.keys.queues())
            self.queues = sorted(_text(n) for n in names)
            self._queues_read = time.monotonic()
        return self.queues

    async def now(self) -> Cursor:
        await self.refresh_queues(force=True)
        cursor = Cursor()
        for q in self.queues:
            last = await self.client.xrevrange(self.store.keys.events(q), "+", "-", count=1)
            cursor.positions[q] = _text(last[0][0]) if last else START
        return cursor

    async def gaps(self, cursor: Cursor) -> list[str]:
        await self.refresh_queues(force=True)
        lost = []
        for q in self.queues:
            if cursor.position(q) == START:
                continue
            try:
                info = await self.client.xinfo_stream(self.store.keys.events(q))
            except Exception:  # no stream yet: nothing was trimmed
                continue
            if _gap(info, cursor.position(q)):
                lost.append(q)
        return lost

    async def read(self, cursor: Cursor, block: float | None = None, count: int = 500
                   ) -> list[Event]:
        import asyncio

        await self.refresh_queues()
        self.last_count = 0
        if not self.queues:
            if block:
                await asyncio.sleep(min(block, QUEUE_REFRESH))
            return []
        ms = self._block_ms(block)
        if self._per_queue(self.client):
            reply = await self._read_each(cursor, count)
            if not reply and ms:
                await asyncio.sleep(min(ms / 1000, CLUSTER_POLL))
                reply = await self._read_each(cursor, count)
        else:
            reply = await self.client.xread(self._streams(cursor), count=count, block=ms)
        events = self._parse_read(reply)
        for e in events:
            cursor.advance(e)
        self.last_count = len(events)
        return self._wanted(events)

    async def _read_each(self, cursor: Cursor, count: int) -> list[Any]:
        out: list[Any] = []
        for key, position in self._streams(cursor).items():
            out += _pairs(await self.client.xread({key: position}, count=count))
        return out

    async def follow(self, cursor: Cursor, stop_at_end: bool = False, block: float = 5.0,
                     check_gaps: bool = True) -> AsyncIterator[Event]:
        if check_gaps:
            lost = await self.gaps(cursor)
            if lost:
                raise EventsTrimmedError(lost)
        while True:
            for event in await self.read(cursor, block=block):
                yield event
                if stop_at_end and event.event in END_EVENTS:
                    return
