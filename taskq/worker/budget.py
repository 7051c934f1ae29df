"""`--max-jobs`: the number of jobs one child process runs before it is replaced, shared by
all its runner threads."""

from __future__ import annotations

import threading


class JobBudget:
    """How many jobs one child may still run (`--max-jobs`), shared by its runner threads:
    a child with 4 threads is replaced after N jobs, not 4N. A runner reserves a job before it
    fetches, then commits it (ran one) or releases it (found none). While other runners hold
    the last reservations, a runner waits for them rather than quitting: one of them may
    find nothing and give its reservation back. None: no limit."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.done = 0
        self.pending = 0
        self._cond = threading.Condition()

    def reserve(self) -> bool:
        """True: go and fetch one job. False: the budget is spent."""
        if self.limit is None:
            return True  # no budget: nothing to count (per job, no lock)
        with self._cond:
            while self.limit is not None and self.done + self.pending >= self.limit:
                if self.done >= self.limit:
                    return False
                self._cond.wait(1.0)  # woken by commit/release; the timeout is a safety net
            self.pending += 1
            return True

    def commit(self) -> None:
        if self.limit is None:
            return
        with self._cond:
            self.pending -= 1
            self.done += 1
            self._cond.notify_all()

    def release(self) -> None:
        if self.limit is None:
            return
        with self._cond:
            self.pending -= 1
            self._cond.notify_all()

    def remaining(self) -> int | None:
        """Jobs still to reserve, counting the one reserved now (None: no limit)."""
        if self.limit is None:
            return None
        return max(1, self.limit - self.done - self.pending + 1)

    @property
    def spent(self) -> bool:
        return self.limit is not None and self.done >= self.limit
