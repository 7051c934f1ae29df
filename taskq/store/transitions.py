"""Transitions: enqueue, fetch, claim, ack, retry, dead-letter, promote. Each is one Lua
script (or one command), so that a job id sits in exactly one place at every instant."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any

from taskq import rediserrors
from taskq.errors import DecodeError, LeaseLostError, StoreConnectionError
from taskq.job import Payload, decode, foreign_id
from taskq.keys import Keys
from taskq.records import Delivery, field_value, flat, history_entry
from taskq.store.base import (
    ENQUEUE_CHUNK,
    StoreBase,
    _text,
    now_ms,
    retry_connection,
    translate_errors,
)
from taskq.store.control import cancel_checked


class AckFetchAhead:
    """An ack_and_fetch whose reply is still to read (Transitions.send_ack_and_fetch)."""

    def __init__(self, store: Transitions, done: Sequence[tuple[Delivery, dict[str, Any]]],
                 ahead: Any) -> None:
        self.store, self.done, self.ahead = store, done, ahead

    @translate_errors
    def result(self) -> tuple[list[int], list[Delivery]]:
        """As ack_and_fetch returns (and raises: LeaseLostError with the acks' replies,
        StoreConnectionError when the reply was lost: the acks may have landed)."""
        return self.store._ack_fetch_reply(self.done, self.ahead.result())


class Transitions(StoreBase):
    _ack_keys_cache: tuple[tuple[str, str, int], tuple[str, str, str]] | None = None

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
            return [_text(self.scripts.fast_call(self.client, "enqueue", keys, args))]
        order: list[int] = []  # reply positions, to give the results back in call order
        by_queue: dict[str, list[int]] = {}
        for i, payload in enumerate(payloads):
            by_queue.setdefault(payload.queue, []).append(i)
        calls: list[tuple[list[str], list[Any]]] = []
        for indexes in by_queue.values():  # one script call per queue: one cluster slot
            for chunk in range(0, len(indexes), ENQUEUE_CHUNK):
                part = indexes[chunk:chunk + ENQUEUE_CHUNK]
                keys, args = [], []
                for i in part:
                    job_keys, job_args = self._enqueue_parts(payloads[i])
                    keys += job_keys
                    args.append(len(job_args))
                    args += job_args
                calls.append((keys, args))
                order += part
        replies = None if new_queues else self.scripts.fast_batch(self.client,
                                                                  "enqueue_many", calls)
        if replies is None:  # a new queue to record too, or no FastLane: one pipeline
            pipe = self.client.pipeline(transaction=False)
            for keys, args in calls:
                self.scripts.queue(pipe, "enqueue_many", keys, args)
            if new_queues:
                pipe.sadd(self.keys.queues(), *new_queues)
            replies = self.scripts.run_pipeline(self.client, pipe)[:len(calls)]
            self._known_queues |= new_queues
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        results: list[Any] = [None] * len(payloads)
        flat_replies = [r for reply in replies for r in reply]
        for i, reply in zip(order, flat_replies, strict=True):
            results[i] = _text(reply)
        return results

    def _enqueue_parts(self, payload: Payload) -> tuple[list[str], list[Any]]:
        return enqueue_parts(self.keys, payload)

    # --- worker: fetch ---------------------------------------------------------------------
    def delivery(self, queue: str, worker_id: str, raw: bytes) -> Delivery:
        try:
            return Delivery(queue, worker_id, raw, decode(raw, self.allow_pickle), None)
        except DecodeError as exc:
            return Delivery(queue, worker_id, raw, None, exc)

    def _fetch_parts(self, queue: str, worker_id: str, n: int) -> tuple[list[str], list[Any]]:
        k = self.keys
        keys = [k.ready(queue), k.active(queue, worker_id), k.running(queue), k.leases(queue),
                k.ready_high(queue), k.ready_low(queue)]
        return keys, [worker_id, n]

    @translate_errors
    def fetch(self, queue: str, worker_id: str, n: int = 1) -> list[Delivery]:
        """Take up to n ready jobs without blocking."""
        keys, args = self._fetch_parts(queue, worker_id, n)
        raws = self.scripts.fast_call(self.client, "fetch", keys, args)
        return [self.delivery(queue, worker_id, raw) for raw in raws]

    @translate_errors
    def fetch_blocking(self, queue: str, worker_id: str, timeout: float
                       ) -> tuple[Delivery | None, bool]:
        """Block until a job is ready (BLMOVE into the active list), then claim it: the job
        may start only once the server confirmed the lease (one more round trip, idle path
        only). Returns (delivery or None, whether the lease covered the whole BLMOVE).

        BLMOVE cannot be fenced by a script, so the guard script travels in the same
        pipeline just before it: it checks, on the server's clock, that the lease outlives
        the BLMOVE's timeout, and otherwise enters this worker in the departed set, whose
        active lists recovery keeps reading. LeaseLostError when the claim finds the lease
        gone (the job is then back at the head of ready)."""
        k = self.keys
        guard = [k.leases(queue), k.departed(queue)], [worker_id, int(timeout * 1000)]
        ready, active = k.ready(queue), k.active(queue, worker_id)
        lane = self.scripts.lane(self.client)
        if lane is not None:  # the same two commands, on this thread's own connection
            move: tuple[Any, ...] = (
                ("BRPOPLPUSH", ready, active, timeout) if self._blmove_missing
                else ("BLMOVE", ready, active, "RIGHT", "LEFT", timeout))
            covered, raw = lane.execute_many([self.scripts.source_command("guard", *guard),
                                              move])
        else:
            pipe = self.client.pipeline(transaction=False)
            self.scripts.queue_source(pipe, "guard", *guard)
            if self._blmove_missing:
                pipe.brpoplpush(ready, active, timeout)
            else:
                pipe.blmove(ready, active, timeout, "RIGHT", "LEFT")
            covered, raw = pipe.execute(raise_on_error=False)
        if isinstance(raw, rediserrors.ResponseError) and "unknown command" in str(raw).lower():
            self._blmove_missing = True  # a server before 6.2: BRPOPLPUSH is the same move
            return self.fetch_blocking(queue, worker_id, timeout)
        for reply in (covered, raw):
            if isinstance(reply, Exception):
                raise reply
        if raw is None:
            return None, bool(covered)
        return self._claim(queue, worker_id, raw), bool(covered)

    @translate_errors
    def claim(self, queue: str, worker_id: str, raw: bytes) -> Delivery:
        """Confirm on the server that this worker still holds a live lease, and mark the job
        running; LeaseLostError (after handing the job back to ready) when it does not."""
        return self._claim(queue, worker_id, raw)

    def _claim(self, queue: str, worker_id: str, raw: bytes) -> Delivery:
        k = self.keys
        delivery = self.delivery(queue, worker_id, raw)
        keys = [k.active(queue, worker_id), k.ready(queue), k.running(queue), k.leases(queue)]
        self.scripts.fast_call(self.client, "claim", keys, [worker_id, raw, delivery.job_id])
        return delivery

    # --- worker: ending a delivery ---------------------------------------------------------
    def _ack_parts(self, d: Delivery, fields: dict[str, Any]) -> tuple[list[str], list[Any]]:
        k, q, jid = self.keys, d.queue, d.job_id
        active, running, counter = self._ack_static_keys(q, d.worker_id, int(time.time() // 60))
        keys = [active, k.job(q, jid), k.history(q, jid), running, counter, k.notify(q, jid)]
        ttl = self.settings.result_ttl
        if d.payload is not None and d.payload.keep_result:  # an idempotency key's result
            ttl = max(ttl, d.payload.keep_result)  # outlives the key
        args = [d.raw, jid, ttl, *flat(fields)]
        return keys, args

    def _ack_static_keys(self, queue: str, worker_id: str, minute: int
                         ) -> tuple[str, str, str]:
        """The keys every ack of one worker shares within a minute (built once, not per job)."""
        cached = self._ack_keys_cache
        if cached is None or cached[0] != (queue, worker_id, minute):
            k = self.keys
            cached = self._ack_keys_cache = ((queue, worker_id, minute), (
                k.active(queue, worker_id), k.running(queue), k.counter(queue, "done", minute)))
        return cached[1]

    @translate_errors
    def ack(self, d: Delivery, fields: dict[str, Any]) -> int:
        """Success: store result fields, end the job as done. False when fenced."""
        keys, args = self._ack_parts(d, fields)
        return int(self.scripts.call(self.client, "ack", keys, args))

    @translate_errors
    def ack_and_fetch(self, done: Sequence[tuple[Delivery, dict[str, Any]]], n: int
                      ) -> tuple[list[int], list[Delivery]]:
        """Ack the finished jobs (one, or a batch; each fenced on its own, each reply as
        `ack` gives it) and take up to n next ones, in one script call: the hot path. n = 0
        acks only. All of one queue and one worker (one slot on a Cluster)."""
        keys, args = self._ack_fetch_parts(done, n)
        reply = self.scripts.fast_call(self.client, "ack_fetch", keys, args)
        return self._ack_fetch_reply(done, reply)

    def can_send_ahead(self) -> bool:
        return self.scripts.can_send_ahead(self.client)

    @translate_errors
    def send_ack_and_fetch(self, done: Sequence[tuple[Delivery, dict[str, Any]]], n: int
                           ) -> AckFetchAhead:
        """ack_and_fetch sent now, its reply read by `result()` later (on the same thread):
        the server acks and fetches while the worker runs the jobs it still holds. Only
        where can_send_ahead()."""
        keys, args = self._ack_fetch_parts(done, n)
        return AckFetchAhead(self, done, self.scripts.send_ahead(
            self.client, "ack_fetch", keys, args))

    def _ack_fetch_parts(self, done: Sequence[tuple[Delivery, dict[str, Any]]], n: int
                         ) -> tuple[list[str], list[Any]]:
        keys: list[str] = []
        args: list[Any] = [len(done)]
        for d, fields in done:
            ack_keys, ack_args = self._ack_parts(d, fields)
            keys += ack_keys
            args += [len(ack_args), *ack_args]
        fetch_keys, fetch_args = self._fetch_parts(done[0][0].queue, done[0][0].worker_id, n)
        return [*keys, *fetch_keys], [*args, *fetch_args]

    def _ack_fetch_reply(self, done: Sequence[tuple[Delivery, dict[str, Any]]], reply: Any
                         ) -> tuple[list[int], list[Delivery]]:
        acked, raws = reply
        replies = [int(a) for a in acked]
        if isinstance(raws, bytes):
            # The lease is lost. The acks' own outcomes must still reach the worker.
            raise LeaseLostError(raws.decode(errors="replace"), acked=replies)
        q, worker_id = done[0][0].queue, done[0][0].worker_id
        return replies, [self.delivery(q, worker_id, raw) for raw in raws]

    @translate_errors
    def retry(self, d: Delivery, nxt: Payload, due_ms: int, count_failure: bool,
              event: str, fields: dict[str, Any]) -> bool:
        k, q, jid = self.keys, d.queue, d.job_id
        minute = int(time.time() // 60)
        return bool(cancel_checked(self.scripts.call(
            self.client, "retry",
            [k.active(q, d.worker_id), k.job(q, jid), k.history(q, jid), k.running(q),
             k.scheduled(q), k.counter(q, "failed", minute)],
            [d.raw, nxt.encode(), jid, due_ms, "1" if count_failure else "0",
             history_entry(event, worker=d.worker_id, attempt=_attempt(d), due=due_ms / 1000),
             *flat(fields)],
        )))

    @translate_errors
    def dead_letter(self, d: Delivery, event: str, fields: dict[str, Any]) -> int:
        """Out of tries or never runnable: to the dead letters, under the job's id, or under
        an id derived from the bytes when they are not the job record's own (dead.lua)."""
        k, q, jid, other = self.keys, d.queue, d.job_id, foreign_id(d.raw)
        minute = int(time.time() // 60)
        base = {"payload": d.raw, "queue": q}
        if d.payload is not None:
            base["task"] = d.payload.task
        return cancel_checked(self.scripts.call(
            self.client, "dead",
            [k.active(q, d.worker_id), k.job(q, jid), k.history(q, jid), k.running(q),
             k.dead(q), k.counter(q, "failed", minute), k.notify(q, jid),
             k.job(q, other), k.history(q, other), k.notify(q, other)],
            [d.raw, jid, now_ms(),
             history_entry(event, worker=d.worker_id, attempt=_attempt(d),
                           reason=fields.get("reason", "")),
             other, *flat({**base, **fields})],
        ))

    @translate_errors
    def promote_due(self, queue: str, limit: int = 1000, now: float | None = None
                    ) -> tuple[int, float | None]:
        """Move due scheduled jobs to ready. Returns (moved, next due time in s or None).
        `now` (epoch seconds, default the local clock) lets a test clock decide what is due."""
        k = self.keys
        at_ms = now_ms() if now is None else int(now * 1000)
        moved, nxt = self.scripts.call(
            self.client, "promote", [k.scheduled(queue), *k.ready_lines(queue)], [at_ms, limit])
        return int(moved), (None if int(nxt) < 0 else int(nxt) / 1000)


def enqueue_parts(k: Keys, payload: Payload) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of enqueue.lua for one job (shared by the async producer store).
    Written out rather than built from a dict: it runs once per enqueued job."""
    q, job_id, eta = payload.queue, payload.id, payload.eta
    ready, scheduled_key, high, low = _queue_keys(k, q)
    scheduled = eta is not None and eta > time.time()
    token = repr(payload.enqueued_at)
    keys = [k.job(q, job_id), k.history(q, job_id), scheduled_key if scheduled else ready,
            k.notify(q, job_id), high, low]
    task, queue = _field_texts(payload.task, q)
    if scheduled:
        due = int(eta * 1000)  # type: ignore[operator]
        return keys, [payload.encode(), "scheduled", due, token, task, queue]
    return keys, [payload.encode(), "ready", 0, token, task, queue]


@functools.lru_cache(maxsize=1024)
def _queue_keys(k: Keys, queue: str) -> tuple[str, str, str, str]:
    """A queue's ready, scheduled, high and low keys (cached: the same for every job)."""
    return k.ready(queue), k.scheduled(queue), k.ready_high(queue), k.ready_low(queue)


@functools.lru_cache(maxsize=1024)
def _field_texts(task: str, queue: str) -> tuple[Any, Any]:
    return field_value(task), field_value(queue)


def _attempt(d: Delivery) -> int | None:
    return d.payload.attempt if d.payload is not None else None
