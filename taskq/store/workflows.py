"""Workflows: jobs that wait for parents (depends_on), the links that let a parent's end
settle them at once, and the resolution of one parent's end, exactly once, on the
dependent's own queue (see taskq/workflows.py for the model and why no script spans two
queues)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from taskq.job import Payload
from taskq.records import flat, history_entry
from taskq.store.base import StoreBase, _text, now_ms, translate_errors

FIRST_CHECK_S = 5.0  # the supervisors' safety-net check of a waiting job's parents


def ref(queue: str, job_id: str) -> str:
    return f"{queue}|{job_id}"


def split_ref(value: str) -> tuple[str, str]:
    queue, _, job_id = value.partition("|")
    return queue, job_id


class Workflows(StoreBase):
    @translate_errors
    def enqueue_waiting(self, payload: Payload, parents: Sequence[str], policy: str) -> Any:
        """Record a job that runs once its parents (refs) are done. 1, or the status of a
        pending job that holds its id."""
        k, q = self.keys, payload.queue
        token = repr(payload.enqueued_at)
        fields = {"task": payload.task, "queue": q, "enqueued_at": token,
                  "parents": json.dumps(list(parents))}
        return _text(self.scripts.call(
            self.client, "enqueue_waiting",
            [k.job(q, payload.id), k.history(q, payload.id), k.waiting(q),
             k.deps(q, payload.id), k.notify(q, payload.id)],
            [payload.encode(), token, now_ms() + int(FIRST_CHECK_S * 1000), policy,
             len(parents), *parents, *flat(fields)]))

    @translate_errors
    def link(self, parent: str, dependent: str) -> tuple[str, str]:
        """Tell the parent (ref) about a dependent (ref); returns the parent's (status,
        result) now ("missing" when it has no record)."""
        queue, job_id = split_ref(parent)
        status, result = self.scripts.call(
            self.client, "link",
            [self.keys.job(queue, job_id), self.keys.dependents(queue, job_id)], [dependent])
        return _text(status), _text(result)

    @translate_errors
    def resolve(self, dependent: str, parent: str, ended: str, result: str) -> int:
        """One parent of `dependent` ended (done | dead | missing). 0 nothing to do, 1 still
        waiting, 2 released to ready, 3 ended dead (settle its own dependents next)."""
        q, job_id = split_ref(dependent)
        k = self.keys
        entry = history_entry("dead-lettered", reason="parent failed", parent=parent,
                              parent_status=ended)
        return int(self.scripts.call(
            self.client, "resolve",
            [k.job(q, job_id), k.deps(q, job_id), k.waiting(q), k.ready(q), k.dead(q),
             k.notify(q, job_id), k.history(q, job_id)],
            [parent, ended, result, now_ms(), entry, self.settings.result_ttl, job_id]))

    @translate_errors
    def dependents_of(self, queue: str, job_id: str) -> list[str]:
        return sorted(m.decode() for m in self.client.smembers(
            self.keys.dependents(queue, job_id)))

    @translate_errors
    def settled(self, queue: str, job_id: str) -> None:
        """Every dependent was told: the set is kept only for `taskq job` (with a TTL)."""
        self.client.expire(self.keys.dependents(queue, job_id), self.settings.result_ttl)

    @translate_errors
    def parent_states(self, parents: Sequence[str]) -> list[tuple[str, str]]:
        """(status or "missing", result or '') of each parent ref, in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for parent in parents:
            queue, job_id = split_ref(parent)
            pipe.hmget(self.keys.job(queue, job_id), "status", "result")
        out = []
        for status, result in pipe.execute():
            out.append((_text(status) if status else "missing", _text(result) or ""))
        return out

    @translate_errors
    def deps_record(self, queue: str, job_id: str) -> dict[str, str]:
        raw = self.client.hgetall(self.keys.deps(queue, job_id))
        return {key.decode(): value.decode(errors="replace") for key, value in raw.items()}

    @translate_errors
    def due_waiting(self, queue: str, limit: int = 200) -> list[str]:
        """Waiting jobs whose parents the supervisors should check now."""
        ids = self.client.zrangebyscore(self.keys.waiting(queue), "-inf", now_ms(), 0, limit)
        return [i.decode() for i in ids]

    @translate_errors
    def check_later(self, queue: str, job_id: str, checks: int) -> None:
        """Next check of a waiting job's parents, backing off up to a minute (XX: a job
        released meanwhile is not put back)."""
        delay = min(60.0, FIRST_CHECK_S * 2 ** min(checks, 4))
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.keys.waiting(queue), {job_id: now_ms() + int(delay * 1000)}, xx=True)
        pipe.hincrby(self.keys.deps(queue, job_id), "checks", 1)
        pipe.execute()
