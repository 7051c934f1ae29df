"""Dead-letter moves: requeue, purge, import, and retention. Each is one script per job (or
per batch, for retention) that starts by taking the id out of, or putting it into, the dead
set, so a job is in exactly one place at every instant. The admin commands (and the web app)
choose the jobs; this is the only code that moves them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskq.records import flat
from taskq.store.base import StoreBase, now_ms, translate_errors

TRIM_BATCH = 500  # dead jobs deleted per script call: keeps each call short on the server


class DeadLetterMoves(StoreBase):
    @translate_errors
    def requeue_dead(self, queue: str, job_id: str, next_raw: bytes, entry: str) -> bool:
        """Back to the tail of ready with the given (requeued) payload; False if the job was
        no longer dead."""
        k = self.keys
        return bool(self.scripts.call(
            self.client, "requeue_dead",
            [k.dead(queue), k.ready(queue), k.job(queue, job_id), k.history(queue, job_id),
             k.notify(queue, job_id)],
            [job_id, next_raw, entry]))

    @translate_errors
    def purge_dead(self, queue: str, job_id: str) -> bool:
        """Delete a dead job and everything kept about it; False if no longer dead."""
        k = self.keys
        return bool(self.scripts.call(
            self.client, "purge_dead",
            [k.dead(queue), k.job(queue, job_id), k.history(queue, job_id),
             k.notify(queue, job_id)], [job_id]))

    @translate_errors
    def import_dead(self, queue: str, job_id: str, died_at_ms: int, entries: Sequence[str],
                    fields: dict[str, Any], replace: bool = False) -> str | None:
        """Write one exported job as dead. None when imported, else the status of the job
        that holds the id already. With `replace`, a job dead here already is overwritten
        (a pending one never is)."""
        k = self.keys
        result = self.scripts.call(
            self.client, "import_dead",
            [k.dead(queue), k.job(queue, job_id), k.history(queue, job_id)],
            [job_id, died_at_ms, "1" if replace else "0", len(entries), *entries,
             *flat(fields)])
        if result == 1:
            self.client.sadd(k.queues(), queue)  # global key: kept out of the per-queue script
            return None
        return result.decode() if isinstance(result, bytes) else str(result)

    @translate_errors
    def trim_dead(self, queue: str, max_count: int | None = None,
                  max_age: float | None = None, batches: int = 10) -> int:
        """Retention: delete the oldest dead jobs past `max_count` and every one older than
        `max_age` seconds (defaults: the settings' dead_max and dead_max_age), keys and all;
        at most `batches` script calls. Returns how many were deleted."""
        max_count = self.settings.dead_max if max_count is None else max_count
        max_age = self.settings.dead_max_age if max_age is None else max_age
        k, total = self.keys, 0
        for _ in range(batches):
            pipe = self.client.pipeline(transaction=False)
            pipe.zcard(k.dead(queue))
            pipe.zrangebyscore(k.dead(queue), "-inf", now_ms() - int(max_age * 1000),
                               start=0, num=TRIM_BATCH)
            count, old = pipe.execute()
            excess = min(count - max_count, TRIM_BATCH)
            over = self.client.zrange(k.dead(queue), 0, excess - 1) if excess > 0 else []
            ids = list(dict.fromkeys(m.decode(errors="replace") for m in [*over, *old]))
            if not ids:
                break
            keys = [k.dead(queue)]
            for job_id in ids:
                keys += [k.job(queue, job_id), k.history(queue, job_id),
                         k.notify(queue, job_id)]
            total += int(self.scripts.call(self.client, "trim_dead", keys, ids))
        return total
