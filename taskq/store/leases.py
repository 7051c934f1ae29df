"""Leases: a worker's membership (register, heartbeat, unregister) and the recovery of the
jobs held by workers whose lease expired."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from taskq.records import Release, field_value
from taskq.store.base import StoreBase, translate_errors


class Leases(StoreBase):
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

