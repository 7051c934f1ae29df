"""Progress and metadata a running job writes onto its own record (`current_job()`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from taskq.store.base import StoreBase, translate_errors


class Progress(StoreBase):
    @translate_errors
    def set_progress(self, queue: str, job_id: str, progress: Any,
                     meta: Mapping[str, Any] | None = None) -> bool:
        """Write progress (None: leave it) and merge a metadata patch into the job's record.
        False when the job has no record or already ended."""
        args = ["" if progress is None else json.dumps(progress),
                json.dumps(dict(meta)) if meta else "", job_id]
        return bool(self.scripts.call(self.client, "progress", [self.keys.job(queue, job_id)],
                                      args))
