"""Periodic jobs: `@periodic("*/5 * * * *", tz="Europe/Paris")` or `@periodic(every=30)`.

No beat process: every `taskq worker` that imports the module and serves the task's queue
runs the schedule (its supervisor, about twice a second). Each tick is enqueued exactly once
however many workers run it: `tick.lua` compares the schedule's last handled tick with this
one and advances it in the same atomic step as the enqueue, so the first worker to offer a
tick enqueues it and every other finds it handled. The tick's job id is derived from the
schedule's name and the tick, as a second guard. Only the latest due tick is ever offered, so
after downtime a missed tick runs once (`misfire="run-once"`) or not at all (`"skip"`),
never once per missed tick. Cron expressions are parsed by cronsim (time zones through
zoneinfo, DST handled by cronsim).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from taskq.errors import ConfigurationError
from taskq.job import MAX_ID_BYTES, QUEUE_MARK, Payload
from taskq.task import DEFAULT_QUEUE, Task, task

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

# cronsim and zoneinfo are imported where a cron schedule is parsed or stepped, not here: a
# worker whose modules declare no cron schedule never holds them.

P = ParamSpec("P")
R = TypeVar("R")
Misfire = Literal["run-once", "skip"]
MAX_GRACE = 60.0


@dataclass(frozen=True)
class Every:
    """Every N seconds, on multiples of N since the epoch (so all workers agree)."""

    seconds: float

    def __post_init__(self) -> None:
        if not isinstance(self.seconds, (int, float)) or self.seconds < 1:
            raise ConfigurationError(f"every must be at least 1 second, got {self.seconds!r}")


@dataclass(frozen=True)
class Schedule:
    task: Task[Any, Any]
    cron: str | None
    every: Every | None
    tz: str
    misfire: Misfire
    grace: float | None  # None: half the period, at most 60 s
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.task.name

    def spec(self) -> dict[str, Any]:
        return {"task": self.name, "cron": self.cron, "every": self.every and
                self.every.seconds, "tz": self.tz, "misfire": self.misfire,
                "grace": self.grace}

    def latest_tick(self, now: float) -> float:
        """The last tick at or before `now` (epoch seconds)."""
        return latest_tick(self.spec(), now)

    def next_tick(self, now: float) -> float:
        """The first tick after `now`."""
        return next_tick(self.spec(), now)

    def misfire_grace(self, tick: float) -> float:
        if self.grace is not None:
            return self.grace
        return min(MAX_GRACE, (self.next_tick(tick) - tick) / 2)

    def payload(self, tick: float) -> Payload:
        """The tick's job, with an id derived from the schedule's name and the tick."""
        built = self.task.build(self.args, self.kwargs)
        return replace(built, id=tick_job_id(self.name, tick, built.queue))


def tick_job_id(name: str, tick: float, queue: str) -> str:
    token = hashlib.sha1(f"{name}|{int(tick * 1000)}".encode()).hexdigest()[:32]
    if queue == DEFAULT_QUEUE or len(token) + 1 + len(queue.encode()) > MAX_ID_BYTES:
        return token
    return f"{token}{QUEUE_MARK}{queue}"


def _zone(tz: str) -> ZoneInfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(f"unknown time zone {tz!r}: {exc}") from None


def latest_tick(spec: Mapping[str, Any], now: float) -> float:
    if spec.get("every"):
        return math.floor(now / spec["every"]) * spec["every"]
    # cronsim's reverse iteration excludes its start: start just after now to include it.
    from cronsim import CronSim

    start = datetime.fromtimestamp(now, _zone(spec["tz"])) + timedelta(microseconds=1)
    return next(CronSim(spec["cron"], start, reverse=True)).timestamp()


def next_tick(spec: Mapping[str, Any], now: float) -> float:
    if spec.get("every"):
        return (math.floor(now / spec["every"]) + 1) * spec["every"]
    from cronsim import CronSim

    return next(CronSim(spec["cron"], datetime.fromtimestamp(now, _zone(spec["tz"])))
                ).timestamp()


_SCHEDULES: dict[str, Schedule] = {}


def periodic(
    cron: str | None = None, *, every: float | timedelta | None = None, tz: str = "UTC",
    misfire: Misfire = "run-once", misfire_grace: float | None = None,
    args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
    name: str | None = None, queue: str = DEFAULT_QUEUE, retries: int = 3,
    timeout: float | None = 300.0, expires: float | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A task that runs on a schedule: a cron expression (5 fields, in `tz`) or `every`
    N seconds. The workers that import it and serve its queue enqueue each tick once.
    `misfire`: a tick found late by more than `misfire_grace` seconds (default: half the
    period, at most 60 s) runs once ("run-once") or is skipped ("skip")."""
    if (cron is None) == (every is None):
        raise ConfigurationError("give a cron expression or every=..., one of them")
    if misfire not in ("run-once", "skip"):
        raise ConfigurationError(f"misfire must be 'run-once' or 'skip', got {misfire!r}")
    if misfire_grace is not None and misfire_grace <= 0:
        raise ConfigurationError("misfire_grace must be a positive number of seconds")
    interval = None
    if every is not None:
        interval = Every(every.total_seconds() if isinstance(every, timedelta) else every)
    if cron is not None:
        from cronsim import CronSim, CronSimError

        _zone(tz)
        try:
            CronSim(cron, datetime.now(_zone(tz)))
        except CronSimError as exc:
            raise ConfigurationError(f"bad cron expression {cron!r}: {exc}") from None

    def register(fn: Callable[P, R]) -> Task[P, R]:
        registered: Task[P, R] = task(name=name, queue=queue, retries=retries,
                                      timeout=timeout, expires=expires)(fn)
        registered.check_arguments(list(args), dict(kwargs or {}))
        _SCHEDULES[registered.name] = Schedule(registered, cron, interval, tz, misfire,
                                               misfire_grace, tuple(args), dict(kwargs or {}))
        return registered

    return register


def schedules(queues: Sequence[str] | None = None) -> list[Schedule]:
    """The registered schedules, those whose task goes to one of `queues` if given."""
    return [s for s in _SCHEDULES.values()
            if queues is None or s.task.options.queue in queues]
