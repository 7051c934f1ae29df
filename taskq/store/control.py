"""Control: cancel, close (a held job ends expired or cancelled), enqueue under a unique or
idempotency key, the periodic tick. Each is one Lua script deciding once on the server."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from taskq.errors import StoreError
from taskq.job import Payload
from taskq.records import Delivery, flat, history_entry
from taskq.store.base import StoreBase, _text, now_ms, translate_errors

GUARD_RETRIES = 5  # a guard key that changes under us this often is a hot key; give up
CANCEL_REQUESTED = -1  # retry.lua / dead.lua: a cancel was requested, nothing written


class CancelRequested(Exception):
    """retry or dead-letter refused because a cancel was requested while the job ran: the
    runner ends the job 'cancelled' (`close`) instead."""


def cancel_checked(reply: int) -> int:
    if reply == CANCEL_REQUESTED:
        raise CancelRequested()
    return int(reply)


class Control(StoreBase):
    # --- cancellation --------------------------------------------------------------------
    def _cancel_parts(self, queue: str, job_id: str, mode: str, held: bytes | None = None
                      ) -> tuple[list[str], list[Any]]:
        k = self.keys
        by, _, limit = (held or b"").decode(errors="replace").partition(" ")
        parked = k.limit_parked(queue, limit) if by == "concurrency" and limit else k.ready(
            queue)
        keys = [k.job(queue, job_id), k.ready(queue), k.scheduled(queue), k.running(queue),
                k.history(queue, job_id), k.notify(queue, job_id), k.ready_high(queue),
                k.ready_low(queue), k.waiting(queue), parked]
        args = [job_id, mode, now_ms(), self.settings.result_ttl,
                history_entry("cancelled", reason="cancelled while waiting")]
        return keys, args

    @translate_errors
    def cancel(self, queue: str, job_id: str, force: bool = False) -> str:
        """'cancelled' | 'requested' | 'missing' | the status of a job that already ended.
        Two round trips: which limit parks the job, if one does; then the script."""
        held = self.client.hget(self.keys.job(queue, job_id), "held")
        keys, args = self._cancel_parts(queue, job_id, "force" if force else "soft", held)
        return str(_text(self.scripts.call(self.client, "cancel", keys, args)))

    @translate_errors
    def waiting_ids(self, queue: str, limit: int = 1000) -> tuple[list[str], int]:
        """Up to `limit` ids of jobs waiting (ready lines, then scheduled), and how many
        wait."""
        from taskq.job import job_id_of

        lines = self.keys.ready_lines(queue)
        pipe = self.client.pipeline(transaction=False)
        for line in lines:
            pipe.lrange(line, -limit, -1)
        pipe.zrange(self.keys.scheduled(queue), 0, limit - 1)
        for line in lines:
            pipe.llen(line)
        pipe.zcard(self.keys.scheduled(queue))
        replies = pipe.execute()
        n = len(lines)
        ids = [job_id_of(raw) for waiting in replies[:n] for raw in reversed(waiting)]
        ids += [job_id_of(raw) for raw in replies[n]]
        return ids[:limit], sum(int(c) for c in replies[n + 1:])

    @translate_errors
    def cancel_waiting(self, queue: str, job_ids: Iterable[str]) -> list[str]:
        """Cancel each of these jobs if it still waits (one pipeline; each cancel atomic)."""
        pipe = self.client.pipeline(transaction=False)
        for job_id in job_ids:
            keys, args = self._cancel_parts(queue, job_id, "waiting")
            self.scripts.queue(pipe, "cancel", keys, args)
        return [str(_text(r)) for r in self.scripts.run_pipeline(self.client, pipe)]

    @translate_errors
    def cancel_requested(self, queue: str, job_id: str) -> bool:
        return bool(self.client.hexists(self.keys.job(queue, job_id), "cancel"))

    @translate_errors
    def force_cancelled(self, queues: Sequence[str], job_ids: Sequence[str]) -> list[str]:
        """Of these running job ids, those with a force cancel request (one pipeline)."""
        pairs = [(q, job_id) for q in queues for job_id in job_ids]
        if not pairs:
            return []
        pipe = self.client.pipeline(transaction=False)
        for q, job_id in pairs:
            pipe.hget(self.keys.job(q, job_id), "cancel")
        return [job_id for (_, job_id), mode in zip(pairs, pipe.execute(), strict=True)
                if mode == b"force"]

    @translate_errors
    def close(self, d: Delivery, status: str, fields: dict[str, Any]) -> bool:
        """End a held delivery as 'expired' or 'cancelled'. False when fenced."""
        k, q, jid = self.keys, d.queue, d.job_id
        attempt = d.payload.attempt if d.payload is not None else None
        return bool(self.scripts.call(
            self.client, "close",
            [k.active(q, d.worker_id), k.job(q, jid), k.history(q, jid), k.running(q),
             k.notify(q, jid)],
            [d.raw, jid, status, now_ms(), self.settings.result_ttl,
             history_entry(status, worker=d.worker_id, attempt=attempt), *flat(fields)]))

    # --- unique and idempotent enqueue ---------------------------------------------------
    @translate_errors
    def enqueue_guarded(self, payload: Payload, kind: str, guard: str, ttl: int
                        ) -> tuple[Any, str]:
        """Enqueue under a unique ('unique') or idempotency ('idempotent') key. Returns
        (1, new id), ('existing', holder id), or (status, id) for a pending duplicate id."""
        k, q = self.keys, payload.queue
        guard_key = k.unique(q, guard) if kind == "unique" else k.idempotency(q, guard)
        enqueue_keys, enqueue_args = self._enqueue_parts(payload)  # type: ignore[attr-defined]
        if q not in self._known_queues:
            self.client.sadd(k.queues(), q)
            self._known_queues.add(q)
        for _ in range(GUARD_RETRIES):
            holder = _text(self.client.get(guard_key)) or ""
            keys = [guard_key, k.job(q, holder or payload.id), *enqueue_keys]
            reply, who = self.scripts.call(self.client, "enqueue_guarded", keys,
                                           [holder, kind, ttl, payload.id, *enqueue_args])
            reply, who = _text(reply), _text(who)
            if reply != "stale":
                if reply == "existing" and who == payload.id:
                    return 1, who  # our own earlier landing (a retry after a lost reply)
                return reply, who
        raise StoreError(f"{kind} key {guard!r} changed {GUARD_RETRIES} times while "
                           f"enqueueing; try again")

    # --- periodic ------------------------------------------------------------------------
    @translate_errors
    def tick(self, name: str, tick_ms: int, on_time: bool, misfire: str, spec: dict[str, Any],
             payload: Payload) -> int:
        """1 enqueued, 0 this tick was handled already, 2 skipped as late."""
        enqueue_keys, enqueue_args = self._enqueue_parts(payload)  # type: ignore[attr-defined]
        keys = [self.keys.periodic(payload.queue), *enqueue_keys]
        args = [name, tick_ms, "1" if on_time else "0", misfire, payload.id,
                json.dumps(spec, sort_keys=True), *enqueue_args]
        return int(self.scripts.call(self.client, "tick", keys, args))

    @translate_errors
    def schedules(self, queue: str) -> dict[str, dict[str, str]]:
        """The periodic schedules seen on this queue: name -> {tick, job, spec, skipped}."""
        out: dict[str, dict[str, str]] = {}
        for field, value in self.client.hgetall(self.keys.periodic(queue)).items():
            name, _, what = field.decode().rpartition("|")
            out.setdefault(name, {})[what] = value.decode(errors="replace")
        return out
