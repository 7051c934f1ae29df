"""The only code that talks to Redis about queue state: one method per transition.

Every transition is one Lua script (or one command) so that a job id sits in exactly one
place at every instant: ready list, a worker's active list, scheduled set, or dead set.
redis-py errors are translated here into taskq's StoreError family.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar

import redis
import tenacity
from redis import Redis

from taskq.config import Settings
from taskq.errors import DecodeError, LeaseLostError, StoreConnectionError, StoreError
from taskq.job import Payload, decode
from taskq.keys import Keys
from taskq.records import Delivery, PendingReply, Release, field_value, flat, history_entry
from taskq.scripting import Scripts

P = ParamSpec("P")
R = TypeVar("R")


TRANSIENT_REPLIES = ("READONLY", "OOM", "BUSY", "MASTERDOWN", "LOADING", "TRYAGAIN",
                     "CLUSTERDOWN")


def now_ms() -> int:
    return int(time.time() * 1000)


def translate_errors(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreConnectionError(f"Redis did not answer: {exc}") from exc
        except redis.ResponseError as exc:
            if str(exc).startswith("LEASELOST"):
                raise LeaseLostError(str(exc)) from exc
            if str(exc).startswith(TRANSIENT_REPLIES):
                # A failover, a full or busy server: wait and retry, as for a dropped link.
                raise StoreConnectionError(f"Redis cannot serve now: {exc}") from exc
            raise StoreError(f"Redis refused a command: {exc}") from exc
        except redis.RedisError as exc:
            raise StoreError(f"Redis error: {exc}") from exc

    return wrapper


retry_connection = tenacity.retry(
    retry=tenacity.retry_if_exception_type(StoreConnectionError),
    stop=tenacity.stop_after_attempt(4),
    wait=tenacity.wait_exponential(multiplier=0.05, max=1.0),
    reraise=True,
)


ENQUEUE_CHUNK = 1000  # jobs per enqueue_many call: keeps each script call short on the server


def _text(reply: Any) -> Any:
    return reply.decode() if isinstance(reply, bytes) else reply


class RedisStore:
    def __init__(self, client: Redis, settings: Settings, allow_pickle: bool = False) -> None:
        # Typed loosely: redis-py's reply unions (bytes | str | ...) say nothing useful here,
        # since every client taskq builds returns bytes.
        self.client: Any = client
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.scripts = Scripts()
        self.allow_pickle = allow_pickle
        self._known_queues: set[str] = set()
        self._blmove_missing = False
        self._offset_ms = 0
        self._offset_checked = float("-inf")

    def lease_clock_ms(self) -> int:
        """Milliseconds on the Redis server's clock, for leases: workers on machines whose
        clocks disagree still judge each other's leases by one clock. The offset to the local
        clock is measured with TIME once a minute (a round trip off the hot path)."""
        now = time.time()
        if now >= self._offset_checked + 60:
            server_s, server_us = self.client.time()
            self._offset_ms = (server_s * 1000 + server_us // 1000) - int(time.time() * 1000)
            self._offset_checked = now
        return int(time.time() * 1000) + self._offset_ms

    @translate_errors
    def ping(self) -> bool:
        return bool(self.client.ping())

    # --- producer ------------------------------------------------------------------------
    def enqueue(self, payloads: Sequence[Payload]) -> list[Any]:
        """Enqueue in one round trip. Per job: 1, or the status of a pending job with that id.
        Retried on connection trouble: enqueue.lua recognises an enqueue that landed before
        (its token), so a lost reply neither loses nor doubles the job."""
        try:
            return self._enqueue_once(payloads)
        except StoreConnectionError:
            return retry_connection(self._enqueue_once)(payloads)

    @translate_errors
    def _enqueue_once(self, payloads: Sequence[Payload]) -> list[Any]:
        new_queues = {p.queue for p in payloads} - self._known_queues
        if len(payloads) == 1 and not new_queues:  # the common case: one plain EVALSHA
            keys, args = self._enqueue_parts(payloads[0])
            return [_text(self.scripts.call(self.client, "enqueue", keys, args))]
        pipe = self.client.pipeline(transaction=False)
        order: list[int] = []  # reply positions, to give the results back in call order
        by_queue: dict[str, list[int]] = {}
        for i, payload in enumerate(payloads):
            by_queue.setdefault(payload.queue, []).append(i)
        for indexes in by_queue.values():  # one script call per queue: one cluster slot
            for chunk in range(0, len(indexes), ENQUEUE_CHUNK):
                part = indexes[chunk:chunk + ENQUEUE_CHUNK]
                keys, args = [], []
                for i in part:
                    job_keys, job_args = self._enqueue_parts(payloads[i])
                    keys += job_keys
                    args += [len(job_args), *job_args]
                self.scripts.queue(pipe, "enqueue_many", keys, args)
                order += part
        if new_queues:
            pipe.sadd(self.keys.queues(), *new_queues)
        replies = self.scripts.run_pipeline(self.client, pipe)
        self._known_queues |= new_queues
        results: list[Any] = [None] * len(payloads)
        flat_replies = [r for reply in replies[: len(replies) - bool(new_queues)] for r in reply]
        for i, reply in zip(order, flat_replies, strict=True):
            results[i] = _text(reply)
        return results

    def _enqueue_parts(self, payload: Payload) -> tuple[list[str], list[Any]]:
        k, q = self.keys, payload.queue
        scheduled = payload.eta is not None and payload.eta > time.time()
        due = int(payload.eta * 1000) if scheduled and payload.eta else 0
        token = repr(payload.enqueued_at)
        fields: dict[str, Any] = {"task": payload.task, "queue": q, "enqueued_at": token,
                  "status": "scheduled" if scheduled else "queued"}
        if scheduled:
            fields["due"] = due
        keys = [k.job(q, payload.id), k.history(q, payload.id),
                k.scheduled(q) if scheduled else k.ready(q), k.notify(q, payload.id)]
        args = [payload.encode(), "scheduled" if scheduled else "ready", due, token,
                *flat(fields)]
        return keys, args

    # --- worker: membership ----------------------------------------------------------------
    @translate_errors
    def register(self, worker_id: str, queues: Sequence[str], info: dict[str, Any]) -> None:
        expiry = self.lease_clock_ms() + int(self.settings.lease_ttl * 1000)
        pipe = self.client.pipeline(transaction=False)
        for q in queues:
            pipe.zadd(self.keys.leases(q), {worker_id: expiry})
        pipe.zadd(self.keys.workers(), {worker_id: expiry})
        # A served queue is a known queue (admin tools list it) even before any enqueue.
        pipe.sadd(self.keys.queues(), *queues)
        if info:
            pipe.hset(self.keys.worker_info(worker_id),
                      mapping={key: field_value(value) for key, value in info.items()})
        pipe.expire(self.keys.worker_info(worker_id), int(self.settings.lease_ttl) + 1)
        pipe.execute()

    @translate_errors
    def heartbeat(self, worker_id: str, queues: Sequence[str]) -> bool:
        """Extend the lease; False when any queue's lease was taken over (XX: never revive)."""
        expiry = self.lease_clock_ms() + int(self.settings.lease_ttl * 1000)
        pipe = self.client.pipeline(transaction=False)
        for q in queues:
            pipe.zadd(self.keys.leases(q), {worker_id: expiry}, xx=True, ch=True)
        pipe.zadd(self.keys.workers(), {worker_id: expiry}, xx=True)
        pipe.expire(self.keys.worker_info(worker_id), int(self.settings.lease_ttl) + 1)
        results = pipe.execute()
        return all(results[: len(queues)])

    @translate_errors
    def unregister(self, worker_id: str, queues: Sequence[str]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for q in queues:
            pipe.zrem(self.keys.leases(q), worker_id)
        pipe.zrem(self.keys.workers(), worker_id)
        pipe.delete(self.keys.worker_info(worker_id))
        pipe.execute()

    # --- worker: fetch ---------------------------------------------------------------------
    def delivery(self, queue: str, worker_id: str, raw: bytes) -> Delivery:
        try:
            return Delivery(queue, worker_id, raw, decode(raw, self.allow_pickle), None)
        except DecodeError as exc:
            return Delivery(queue, worker_id, raw, None, exc)

    def _fetch_parts(self, queue: str, worker_id: str, n: int) -> tuple[list[str], list[Any]]:
        k = self.keys
        keys = [k.ready(queue), k.active(queue, worker_id), k.running(queue), k.leases(queue)]
        return keys, [worker_id, self.lease_clock_ms(), n]

    @translate_errors
    def fetch(self, queue: str, worker_id: str, n: int = 1) -> list[Delivery]:
        """Take up to n ready jobs without blocking."""
        keys, args = self._fetch_parts(queue, worker_id, n)
        raws = self.scripts.call(self.client, "fetch", keys, args)
        return [self.delivery(queue, worker_id, raw) for raw in raws]

    @translate_errors
    def fetch_blocking(self, queue: str, worker_id: str, timeout: float) -> Delivery | None:
        """Block until a job is ready (BLMOVE into the active list), then mark it running."""
        k = self.keys
        raw = self._blmove(k.ready(queue), k.active(queue, worker_id), timeout)
        if raw is None:
            return None
        delivery = self.delivery(queue, worker_id, raw)
        keys = [k.active(queue, worker_id), k.ready(queue), k.running(queue), k.leases(queue)]
        args = [worker_id, self.lease_clock_ms(), raw, delivery.job_id]
        claim = PendingReply(
            self.client, ["EVALSHA", self.scripts.sha["claim"], len(keys), *keys, *args],
            lambda: self.scripts.call(self.client, "claim", keys, args))
        return replace(delivery, claim=claim)

    @translate_errors
    def confirm_claim(self, delivery: Delivery) -> None:
        """Read the reply of a claim sent at fetch time; LeaseLostError if the server handed
        the job back because this worker had lost its lease."""
        if delivery.claim is not None:
            delivery.claim.result()

    # --- worker: ending a delivery ---------------------------------------------------------
    def _ack_parts(self, d: Delivery, fields: dict[str, Any]) -> tuple[list[str], list[Any]]:
        k, q, jid = self.keys, d.queue, d.job_id
        minute = int(time.time() // 60)
        keys = [k.active(q, d.worker_id), k.job(q, jid), k.history(q, jid), k.running(q),
                k.counter(q, "done", minute), k.notify(q, jid)]
        args = [d.raw, jid, self.settings.result_ttl, *flat(fields)]
        return keys, args

    @translate_errors
    def ack(self, d: Delivery, fields: dict[str, Any]) -> bool:
        """Success: store result fields, end the job as done. False when fenced."""
        keys, args = self._ack_parts(d, fields)
        return bool(self.scripts.call(self.client, "ack", keys, args))

    @translate_errors
    def ack_and_fetch(self, d: Delivery, fields: dict[str, Any], n: int
                      ) -> tuple[bool, list[Delivery]]:
        """Ack one job and take the next ones in one script call (the hot path)."""
        ack_keys, ack_args = self._ack_parts(d, fields)
        q = d.queue
        fetch_keys, fetch_args = self._fetch_parts(q, d.worker_id, n)
        acked, raws = self.scripts.call(self.client, "ack_fetch", [*ack_keys, *fetch_keys],
                                        [len(ack_args), *ack_args, *fetch_args])
        if isinstance(raws, bytes):
            # The lease is lost. The ack's own outcome must still reach the worker.
            raise LeaseLostError(raws.decode(errors="replace"), acked=bool(acked))
        return bool(acked), [self.delivery(q, d.worker_id, raw) for raw in raws]

    @translate_errors
    def retry(self, d: Delivery, nxt: Payload, due_ms: int, count_failure: bool,
              event: str, fields: dict[str, Any]) -> bool:
        k, q, jid = self.keys, d.queue, d.job_id
        minute = int(time.time() // 60)
        return bool(self.scripts.call(
            self.client, "retry",
            [k.active(q, d.worker_id), k.job(q, jid), k.history(q, jid), k.running(q),
             k.scheduled(q), k.counter(q, "failed", minute)],
            [d.raw, nxt.encode(), jid, due_ms, "1" if count_failure else "0",
             history_entry(event, worker=d.worker_id, attempt=_attempt(d), due=due_ms / 1000),
             *flat(fields)],
        ))

    @translate_errors
    def dead_letter(self, d: Delivery, event: str, fields: dict[str, Any]) -> bool:
        k, q, jid = self.keys, d.queue, d.job_id
        minute = int(time.time() // 60)
        base = {"payload": d.raw, "queue": q}
        if d.payload is not None:
            base["task"] = d.payload.task
        return bool(self.scripts.call(
            self.client, "dead",
            [k.active(q, d.worker_id), k.job(q, jid), k.history(q, jid), k.running(q),
             k.dead(q), k.counter(q, "failed", minute), k.notify(q, jid)],
            [d.raw, jid, now_ms(),
             history_entry(event, worker=d.worker_id, attempt=_attempt(d),
                           reason=fields.get("reason", "")),
             *flat({**base, **fields})],
        ))

    # --- recovery and scheduling -----------------------------------------------------------
    @translate_errors
    def expired_workers(self, queue: str) -> list[str]:
        ids = self.client.zrangebyscore(self.keys.leases(queue), "-inf", self.lease_clock_ms())
        return [i.decode() for i in ids]

    @translate_errors
    def held(self, queue: str, worker_id: str) -> list[bytes]:
        return list(self.client.lrange(self.keys.active(queue, worker_id), 0, -1))

    @translate_errors
    def release(self, queue: str, worker_id: str, releases: Iterable[Release],
                only_if_expired: bool, drop_lease: bool) -> tuple[int, int]:
        """Move held jobs to their destinations in one script. Returns (moved, still held);
        moved is -1 when the lease is alive."""
        k = self.keys
        keys = [k.leases(queue), k.active(queue, worker_id), k.ready(queue),
                k.scheduled(queue), k.dead(queue), k.running(queue)]
        per_job: list[Any] = []
        count = 0
        for r in releases:
            count += 1
            keys += [k.job(queue, r.job_id), k.history(queue, r.job_id),
                     k.notify(queue, r.job_id)]
            per_job += [r.held, r.next, r.job_id, r.dest, r.score, r.event,
                        json.dumps(r.fields)]
        args = [worker_id, self.lease_clock_ms(), "1" if only_if_expired else "0",
                "1" if drop_lease else "0", count, *per_job]
        moved, left = self.scripts.call(self.client, "recover", keys, args)
        return int(moved), int(left)

    @translate_errors
    def promote_due(self, queue: str, limit: int = 1000) -> tuple[int, float | None]:
        """Move due scheduled jobs to ready. Returns (moved, next due time in s or None)."""
        k = self.keys
        moved, nxt = self.scripts.call(
            self.client, "promote", [k.scheduled(queue), k.ready(queue)], [now_ms(), limit])
        return int(moved), (None if int(nxt) < 0 else int(nxt) / 1000)

    # --- reads -------------------------------------------------------------------------------
    @translate_errors
    def job_record(self, queue: str, job_id: str) -> dict[str, str]:
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.job(queue, job_id))
        pipe.hget(self.keys.running(queue), job_id)
        record, running = pipe.execute()
        out = {key.decode(): value.decode(errors="replace") for key, value in record.items()}
        if out and running and out.get("status") == "queued":
            out["status"] = "active"
            out["worker"], _, started = running.decode().partition("|")
            out["started_at"] = str(int(started) / 1000)
        if out.get("status") == "scheduled" and float(out.get("due", 0)) <= now_ms():
            out["status"] = "queued"  # due and promoted (or about to be)
        return out

    @translate_errors
    def history(self, queue: str, job_id: str) -> list[dict[str, Any]]:
        """The job's story, oldest first. Enqueue and success are not written as events (the
        hot path stays lean): they are told here from the job hash."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self.keys.job(queue, job_id), "enqueued_at", "status", "finished_at",
                   "worker", "payload")
        pipe.lrange(self.keys.history(queue, job_id), 0, -1)
        (enqueued, status, finished, worker, raw), stored = pipe.execute()
        events = [json.loads(e) for e in stored]
        if enqueued and not (events and events[0].get("event") == "enqueued"):
            events.insert(0, {"at": round(float(enqueued), 3), "event": "enqueued"})
        if status == b"done" and finished:
            attempt = _peek_attempt(raw)
            events.append({"at": round(float(finished), 3), "event": "succeeded",
                           "worker": worker.decode() if worker else None, "attempt": attempt})
        return events

    @translate_errors
    def watch(self, queue: str, job_id: str) -> dict[str, str]:
        """Mark the job as waited for (so that its end is signalled) and return its hash."""
        flat_reply = self.scripts.call(self.client, "watch", [self.keys.job(queue, job_id)], [])
        return {k.decode(): v.decode(errors="replace")
                for k, v in zip(flat_reply[::2], flat_reply[1::2], strict=True)}

    @translate_errors
    def wait_for_end(self, queue: str, job_id: str, timeout: float) -> bool:
        """Block on the server until the job ends (done or dead) or timeout; True if ended.
        BLMOVE onto the same list rotates it, so every waiter wakes, and none consumes."""
        key = self.keys.notify(queue, job_id)
        return self._blmove(key, key, timeout) is not None

    def _blmove(self, source: str, dest: str, timeout: float) -> bytes | None:
        """BLMOVE RIGHT LEFT, or BRPOPLPUSH (the same move) on servers before 6.2."""
        if self._blmove_missing:
            return self.client.brpoplpush(source, dest, timeout)  # type: ignore[no-any-return]
        try:
            return self.client.blmove(source, dest, timeout, "RIGHT", "LEFT")  # type: ignore[no-any-return]
        except redis.ResponseError as exc:
            if "unknown command" not in str(exc).lower():
                raise
            self._blmove_missing = True
            return self.client.brpoplpush(source, dest, timeout)  # type: ignore[no-any-return]


def _peek_attempt(raw: bytes | None) -> int | None:
    try:
        return decode(raw).attempt if raw else None
    except DecodeError:
        return None


def _attempt(d: Delivery) -> int | None:
    return d.payload.attempt if d.payload is not None else None


__all__ = ["Delivery", "PendingReply", "RedisStore", "Release", "field_value", "flat",
           "history_entry", "translate_errors"]
