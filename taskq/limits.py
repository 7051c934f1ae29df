"""Rate and concurrency limits of a task: what `@task(rate=..., concurrency=...,
limit_key=...)` means, and which limit one job falls under.

The limits are enforced on the server, by one script per decision (store/limits.py): a worker
that fetched a limited job asks `acquire.lua` for admission before running it. Admitted: it
runs (holding a concurrency permit, or the rate slot it took). Held back by the rate: the job
goes to the scheduled set at the next free slot, which is reserved for it. Held back by the
concurrency: the job is parked in the limit's own list until a permit is released, then put
at the front of ready. Neither is a failure, and nothing polls.

A permit is an entry job id -> worker in the limit's holders hash, valid while the job is in
the queue's running hash: when the job ends (ack, retry, dead letter) or its worker's lease
expires and recovery takes its jobs back, the permit is stale and the next acquire or release
drops it. So a crashed worker's permits come back through its lease.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from taskq.errors import ConfigurationError

_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour)s?\s*$")
_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600,
          "hour": 3600}


def parse_rate(rate: str) -> tuple[int, float]:
    """"100/m" -> (100, 60.0); "5/10s" -> (5, 10.0)."""
    match = _RATE_RE.match(rate) if isinstance(rate, str) else None
    if not match or int(match.group(1)) < 1:
        raise ConfigurationError(
            f"rate must look like '100/m', '50/s', '1000/h' or '5/10s', got {rate!r}")
    count, every, unit = int(match.group(1)), match.group(2), match.group(3)
    return count, float(int(every or 1) * _UNITS[unit])


@dataclass(frozen=True)
class LimitSpec:
    """A task's limits: at most `concurrency` running at once, at most `rate` starts per
    period (spread evenly: one every period/count), per value of argument `key` if set."""

    concurrency: int | None = None
    rate: str | None = None
    key: str | None = None

    def __post_init__(self) -> None:
        if self.concurrency is not None and (not isinstance(self.concurrency, int)
                                             or self.concurrency < 1):
            raise ConfigurationError(
                f"concurrency must be a whole number >= 1, got {self.concurrency!r}")
        if self.rate is not None:
            parse_rate(self.rate)
        if self.key is not None and not (self.concurrency or self.rate):
            raise ConfigurationError("limit_key needs a rate or a concurrency to apply per key")

    @property
    def active(self) -> bool:
        return bool(self.concurrency or self.rate)

    @property
    def interval_ms(self) -> int:
        """Milliseconds between two starts under the rate (0: no rate limit)."""
        if not self.rate:
            return 0
        count, period = parse_rate(self.rate)
        return max(1, round(period * 1000 / count))

    def check_key(self, signature: inspect.Signature, task_name: str) -> None:
        if self.key is not None and self.key not in signature.parameters:
            raise ConfigurationError(
                f"limit_key {self.key!r} is not a parameter of {task_name}{signature}")


@dataclass(frozen=True)
class Limit:
    """The limit one job falls under: its name (task, and the key's value) and numbers."""

    name: str
    concurrency: int  # 0: none
    interval_ms: int  # 0: no rate


def limit_for(task_name: str, spec: LimitSpec, signature: inspect.Signature,
              args: Sequence[Any], kwargs: Mapping[str, Any]) -> Limit | None:
    if not spec.active:
        return None
    name = task_name
    if spec.key is not None:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        name = f"{task_name}[{spec.key}={bound.arguments.get(spec.key)}]"
    return Limit(name, spec.concurrency or 0, spec.interval_ms)
