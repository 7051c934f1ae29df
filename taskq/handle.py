"""`Job`: the handle `delay()` and `enqueue()` return: id, status, result."""

from __future__ import annotations

import json
import time
from typing import Any

from taskq.errors import JobFailedError, JobNotFoundError, ResultTimeoutError
from taskq.store import RedisStore


class Job:
    """A handle on one enqueued job. Cheap: it holds only the id, queue and a store."""

    def __init__(self, job_id: str, queue: str, store: RedisStore) -> None:
        self.id = job_id
        self.queue = queue
        self._store = store
        self._record: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, queue={self.queue!r})"

    def refresh(self) -> dict[str, str]:
        """Read the job's record from Redis (one round trip) and return it."""
        record = self._store.job_record(self.queue, self.id)
        if not record:
            raise JobNotFoundError(
                f"no job {self.id} in queue {self.queue!r}: wrong id, or its result expired")
        self._record = record
        return record

    def status(self) -> str:
        """queued, scheduled, active, done or dead."""
        return self.refresh()["status"]

    def history(self) -> list[dict[str, Any]]:
        return self._store.history(self.queue, self.id)

    def result(self, timeout: float | None = None) -> Any:
        """The task's return value. Blocks on the server (no polling) until the job is done,
        up to `timeout` seconds (None: forever). Raises JobFailedError for a dead job and
        ResultTimeoutError when time runs out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self._store.watch(self.queue, self.id)
            if not record:
                raise JobNotFoundError(
                    f"no job {self.id} in queue {self.queue!r}: wrong id, or its result expired")
            self._record = record
            if record["status"] == "done":
                return json.loads(record.get("result", "null"))
            if record["status"] == "dead":
                error = record.get("error") or record.get("reason")
                raise JobFailedError(self.id, "dead", error)
            left = 0.0 if deadline is None else deadline - time.monotonic()
            if deadline is not None and left <= 0:
                raise ResultTimeoutError(
                    f"job {self.id} is still {record['status']} after {timeout} s")
            # Block on the server until the job ends; wake at least every 5 s to re-read.
            self._store.wait_for_end(self.queue, self.id, min(left or 5.0, 5.0))
