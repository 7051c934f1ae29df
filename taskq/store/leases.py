"""Leases: a worker's membership (register, heartbeat, unregister) and the recovery of the
jobs held by workers whose lease expired."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from taskq.job import job_id_of
from taskq.keys import DEPARTED_HORIZON_MS
from taskq.records import Release, field_value, safe_text
from taskq.store.base import StoreBase, translate_errors
from taskq.topology import is_cluster, server_time


class Leases(StoreBase):
    def _expiry(self, key: str) -> int:
        """A lease's end on the clock of the node that holds `key` (the workers registry: on
        a Cluster it lives on a node of its own)."""
        return self.lease_clock_ms(key) + int(self.settings.lease_ttl * 1000)

    @translate_errors
    def register(self, worker_id: str, queues: Sequence[str], info: dict[str, Any]) -> None:
        ttl_ms = int(self.settings.lease_ttl * 1000)
        pipe = self.client.pipeline(transaction=False)
        for q in queues:  # the lease itself is stamped on the server's clock (lease.lua)
            self.scripts.queue(pipe, "lease", [self.keys.leases(q)], [worker_id, ttl_ms,
                                                                       "register"])
        pipe.zadd(self.keys.workers(), {worker_id: self._expiry(self.keys.workers())})
        # A served queue is a known queue (admin tools list it) even before any enqueue.
        pipe.sadd(self.keys.queues(), *queues)
        if info:
            pipe.hset(self.keys.worker_info(worker_id),
                      mapping={key: field_value(value) for key, value in info.items()})
        pipe.expire(self.keys.worker_info(worker_id), int(self.settings.lease_ttl) + 1)
        self.scripts.run_pipeline(self.client, pipe)

    def heartbeat(self, worker_id: str, queues: Sequence[str]) -> bool:
        """Extend the lease; False when any queue's lease is gone or expired (never revived:
        recovery may have judged the worker dead)."""
        return self.vouch([worker_id], queues)[worker_id]

    @translate_errors
    def vouch(self, worker_ids: Sequence[str], queues: Sequence[str]) -> dict[str, bool]:
        """Renew the leases of several workers in one round trip (a supervisor vouches for
        its live children, so a child whose own heartbeat thread is starved, by a task that
        holds the GIL, keeps its jobs). Per worker: False when a lease was lost."""
        ttl_ms = int(self.settings.lease_ttl * 1000)
        registry_expiry = self._expiry(self.keys.workers())  # the admin registry's view only
        pipe = self.client.pipeline(transaction=False)
        for worker_id in worker_ids:
            for q in queues:
                self.scripts.queue(pipe, "lease", [self.keys.leases(q)],
                                   [worker_id, ttl_ms, "renew"])
        for worker_id in worker_ids:
            pipe.zadd(self.keys.workers(), {worker_id: registry_expiry}, xx=True)
            pipe.expire(self.keys.worker_info(worker_id), int(self.settings.lease_ttl) + 1)
        results = self.scripts.run_pipeline(self.client, pipe)
        n = len(queues)
        return {w: all(results[i * n:(i + 1) * n]) for i, w in enumerate(worker_ids)}

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
        """Workers whose lease on `queue` expired, judged on the server's clock."""
        key = self.keys.leases(queue)
        if is_cluster(self.client):  # TIME of the node that holds the leases, then them
            seconds, micros = server_time(self.client, key)
            leases = self.client.zrange(key, 0, -1, withscores=True)
        else:
            pipe = self.client.pipeline(transaction=False)
            pipe.time()
            pipe.zrange(key, 0, -1, withscores=True)
            (seconds, micros), leases = pipe.execute()
        now = seconds * 1000 + micros // 1000
        return [member.decode() for member, expiry in leases if expiry < now]

    @translate_errors
    def departed(self, queue: str) -> list[str]:
        """Departed workers (see keys.departed) whose active list holds something now."""
        ids = [m.decode() for m in self.client.zrange(self.keys.departed(queue), 0, -1)]
        if not ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for worker_id in ids:
            pipe.llen(self.keys.active(queue, worker_id))
        return [w for w, n in zip(ids, pipe.execute(), strict=True) if n]

    @translate_errors
    def prune_departed(self, queue: str) -> int:
        """Forget departed workers past the horizon whose active list is empty."""
        horizon = DEPARTED_HORIZON_MS
        old = self.client.zrangebyscore(self.keys.departed(queue), "-inf",
                                        self.lease_clock_ms(self.keys.departed(queue)) - horizon)
        if not old:
            return 0
        ids = [m.decode() for m in old]
        keys = [self.keys.departed(queue), *(self.keys.active(queue, w) for w in ids)]
        return int(self.scripts.call(self.client, "prune_departed", keys, [horizon, *ids]))

    @translate_errors
    def held(self, queue: str, worker_id: str) -> list[bytes]:
        return list(self.client.lrange(self.keys.active(queue, worker_id), 0, -1))

    @translate_errors
    def own_records(self, queue: str, raws: Sequence[bytes]) -> list[bool]:
        """For each held payload: does the record of the job it names hold these very bytes?
        (A payload pushed by hand, or reusing another job's id, is not its record's own; a
        held job's own record changes only through its holder, so this read stays true.)"""
        if not raws:
            return []
        pipe = self.client.pipeline(transaction=False)
        for raw in raws:
            pipe.hget(self.keys.job(queue, job_id_of(raw)), "payload")
        return [own == raw for raw, own in zip(raws, pipe.execute(), strict=True)]

    @translate_errors
    def release(self, queue: str, worker_id: str, releases: Iterable[Release],
                only_if_expired: bool, drop_lease: bool) -> tuple[int, int]:
        """Move held jobs to their destinations in one script. Returns (moved, still held);
        moved is -1 when the lease is alive."""
        k = self.keys
        keys = [k.leases(queue), k.active(queue, worker_id), k.ready(queue),
                k.scheduled(queue), k.dead(queue), k.running(queue),
                k.counter(queue, "failed", int(time.time() // 60))]
        per_job: list[Any] = []
        count = 0
        for r in releases:
            count += 1
            keys += [k.job(queue, r.job_id), k.history(queue, r.job_id),
                     k.notify(queue, r.job_id)]
            per_job += [r.held, r.next, r.job_id, r.dest, r.score, r.event,
                        json.dumps({k: safe_text(v) for k, v in r.fields.items()})]
        args = [worker_id, 0, "1" if only_if_expired else "0",
                "1" if drop_lease else "0", count, *per_job,
                self.settings.result_ttl]
        moved, left = self.scripts.call(self.client, "recover", keys, args)
        return int(moved), int(left)

