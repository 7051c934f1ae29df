"""Routing jobs between workers that know different tasks: live workers publish the task names
they can run on each queue (tied to their leases, so the list cannot go stale), and a worker
that lacks a job's task hands the job back (`bounce`) instead of dead-lettering it."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from taskq.records import Delivery
from taskq.store.base import StoreBase, now_ms, translate_errors

MAX_PUBLISHED_TASKS = 10_000  # task names one worker publishes per queue (a documented bound)
KNOWN_TASKS_LINGER_MS = 3_600_000  # the hash outlives the last lease by this (admin views)


@dataclass(frozen=True)
class BouncePolicy:
    """How a job whose task this worker lacks is handed back. Delays double from `first`
    up to `most` seconds; after `grace` seconds with no live worker that knows the task, or
    `max_bounces` hand-backs, it is dead-lettered as unknown-task. Each delay is scaled by a
    random factor within 1 +- `jitter`, so that the worker that bounced the job is not always
    first in line when it is due again."""

    grace: float = 60.0
    first: float = 0.1
    most: float = 2.0
    max_bounces: int = 1000
    jitter: float = 0.5


@dataclass(frozen=True)
class Bounce:
    """What `bounce` did: "bounced" (scheduled again after `delay` s), "dead" (the caller must
    dead-letter it: `why` is "unknown" or "bounces"), or "fenced"."""

    verdict: str
    delay: float = 0.0
    bounces: int = 0
    why: str = ""


class Routing(StoreBase):
    @translate_errors
    def publish_tasks(self, queues: Sequence[str], names: Sequence[str]) -> None:
        """Say that this worker (with a fresh lease) can run `names` on `queues`. Called at
        start and with every heartbeat, so the entries live exactly as long as the lease."""
        now = self.lease_clock_ms()
        expiry = now + int(self.settings.lease_ttl * 1000)
        names = list(names)[:MAX_PUBLISHED_TASKS]
        pipe = self.client.pipeline(transaction=False)
        for queue in queues:
            self.scripts.queue(pipe, "publish_tasks", [self.keys.known_tasks(queue)],
                               [expiry, now, KNOWN_TASKS_LINGER_MS, *names])
        self.scripts.run_pipeline(self.client, pipe)

    @translate_errors
    def known_tasks(self, queue: str) -> dict[str, float]:
        """Task name -> lease expiry (s, server clock) of the live worker that knows it."""
        raw = self.client.hgetall(self.keys.known_tasks(queue))
        return {k.decode(): int(v) / 1000 for k, v in raw.items()}

    @translate_errors
    def bounce(self, d: Delivery, task: str, policy: BouncePolicy) -> Bounce:
        """Hand a job back for a worker that knows its task (see bounce.lua)."""
        k, q, jid = self.keys, d.queue, d.job_id
        reply = self.scripts.call(
            self.client, "bounce",
            [k.active(q, d.worker_id), k.job(q, jid), k.running(q), k.scheduled(q),
             k.known_tasks(q)],
            [d.raw, jid, task, self.lease_clock_ms(), now_ms(), int(policy.grace * 1000),
             policy.max_bounces, int(policy.first * 1000), int(policy.most * 1000),
             1 + random.uniform(-policy.jitter, policy.jitter)])
        code = int(reply[0])
        if code == 0:
            return Bounce("fenced")
        if code == 1:
            return Bounce("bounced", int(reply[1]) / 1000, int(reply[2]))
        why = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
        return Bounce("dead", bounces=int(reply[2]), why=why)
