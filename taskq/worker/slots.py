"""Shared memory between a child and its supervisor: which job each runner thread runs and
its hard deadline. Plain shared arrays, written without locks: a torn read only delays a
timeout check by one tick. The single-process worker, whose child is a thread, keeps the same
fields in plain Python objects (`shared=False`) and never imports multiprocessing's shared
memory (ctypes, mmap)."""

from __future__ import annotations

import time
from typing import Any

from taskq.job import MAX_ID_BYTES as ID_BYTES  # ids are at most this long


class _Value:
    """What `RawValue` offers (`.value`), for slots that stay in one process."""

    def __init__(self, value: float) -> None:
        self.value = value


class SharedSlots:
    def __init__(self, count: int, shared: bool = True) -> None:
        self.count = count
        self.deadlines: Any
        self.ids: Any
        self.promote_at: Any
        self.last_active: Any
        if not shared:
            self.deadlines = [0.0] * count
            self.ids = bytearray(count * ID_BYTES)
            self.promote_at, self.last_active = _Value(0.0), _Value(0.0)
            return
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self.deadlines = ctx.RawArray("d", count)
        self.ids = ctx.RawArray("c", count * ID_BYTES)
        # The earliest time a job a runner deferred (rate limit) falls due: the supervisor
        # promotes then instead of at its next once-a-second pass. 0: nothing pending.
        self.promote_at = ctx.RawValue("d", 0.0)
        self.last_active = ctx.RawValue("d", 0.0)  # when a job last started or ended

    def busy(self) -> bool:
        return any(self.deadlines[i] for i in range(self.count))

    def slot(self, index: int) -> SharedSlot:
        return SharedSlot(self, index)

    def overdue(self, now: float) -> list[str]:
        """Job ids whose deadline has passed."""
        out = []
        for i in range(self.count):
            deadline = self.deadlines[i]
            if deadline and now > deadline:
                raw = self.ids[i * ID_BYTES:(i + 1) * ID_BYTES]
                out.append(raw.rstrip(b"\0").decode(errors="replace"))
        return out

    def take_promote_hint(self, now: float) -> bool:
        """True (and cleared) when a deferred job has fallen due."""
        at = self.promote_at.value
        if at and now >= at:
            self.promote_at.value = 0.0
            return True
        return False

    def running(self) -> list[str]:
        """Ids of the jobs running now (a job without timeout has an infinite deadline)."""
        out = []
        for i in range(self.count):
            if self.deadlines[i]:
                raw = self.ids[i * ID_BYTES:(i + 1) * ID_BYTES]
                out.append(raw.rstrip(b"\0").decode(errors="replace"))
        return out

    def reset(self) -> None:
        for i in range(self.count):
            self.deadlines[i] = 0.0


class SharedSlot:
    def __init__(self, slots: SharedSlots, index: int) -> None:
        self.slots = slots
        self.index = index

    def start(self, job_id: str, deadline: float) -> None:
        encoded = job_id.encode()[:ID_BYTES].ljust(ID_BYTES, b"\0")
        base = self.index * ID_BYTES
        self.slots.ids[base:base + ID_BYTES] = encoded
        self.slots.deadlines[self.index] = deadline
        self.slots.last_active.value = time.time()

    def clear(self) -> None:
        self.slots.deadlines[self.index] = 0.0
        self.slots.last_active.value = time.time()

    def due_at(self, when: float) -> None:
        """A job this runner deferred falls due at `when` (epoch s): wake the promoter."""
        current = self.slots.promote_at.value
        if not current or when < current:
            self.slots.promote_at.value = when
