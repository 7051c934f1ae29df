"""The supervisor's part in time and control: offer each due periodic tick (the store's tick
script decides, once, whether it is enqueued) and find the children running force-cancelled
jobs. About two calls a second per worker machine, none while idle between ticks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from taskq.periodic import schedules as registered_schedules
from taskq.store import RedisStore

CANCEL_CHECK_EVERY = 0.5  # seconds between looks for force cancels of running jobs


class RunsJobs(Protocol):
    @property
    def slots(self) -> Any: ...


class ControlLoop:
    def __init__(self, store: RedisStore, queues: Sequence[str], log: Any) -> None:
        self.store = store
        self.queues = list(queues)
        self.log = log
        self.schedules = registered_schedules(self.queues)
        self.handled: dict[str, float] = {}  # schedule -> latest tick known handled
        self.next_check: dict[str, float] = {}
        self.next_cancel_check = 0.0

    def force_cancels(self, now: float, children: Iterable[RunsJobs]) -> list[Any]:
        """The children that run a job whose cancel was forced."""
        if now < self.next_cancel_check:
            return []
        self.next_cancel_check = now + CANCEL_CHECK_EVERY
        running = {job_id: child for child in children for job_id in child.slots.running()}
        if not running:
            return []
        hit = self.store.force_cancelled(self.queues, list(running))
        return list({id(running[j]): running[j] for j in hit}.values())

    def run_periodic(self, now: float) -> None:
        if not self.schedules:
            return
        server_now = self.store.lease_clock_ms() / 1000  # every worker judges ticks alike
        for schedule in self.schedules:
            name = schedule.name
            if server_now < self.next_check.get(name, 0.0):
                continue
            tick = schedule.latest_tick(server_now)
            if tick > self.handled.get(name, float("-inf")):
                on_time = server_now - tick <= schedule.misfire_grace(tick)
                outcome = self.store.tick(name, int(tick * 1000), on_time, schedule.misfire,
                                          schedule.spec(), schedule.payload(tick))
                self.handled[name] = tick
                if outcome == 1:
                    self.log.info("periodic-enqueued", schedule=name, tick=tick,
                                  late=round(server_now - tick, 3))
                elif outcome == 2:
                    self.log.warning("periodic-skipped", schedule=name, tick=tick,
                                     late=round(server_now - tick, 3), misfire=schedule.misfire)
            self.next_check[name] = schedule.next_tick(server_now)
