"""Backoff between attempts: a pure function of the attempt number, built on tenacity's waits."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from tenacity import wait_exponential, wait_random

from taskq.errors import ConfigurationError


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: about initial * 2**(attempt-1), capped at `maximum`,
    plus up to `jitter` seconds at random, so failed jobs do not come back in lockstep."""

    initial: float = 1.0
    maximum: float = 600.0
    jitter: float = 1.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < self.initial or self.jitter < 0:
            raise ConfigurationError("backoff needs 0 <= initial <= maximum and jitter >= 0")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1 = the first run)."""
        wait = wait_exponential(multiplier=self.initial, max=self.maximum, exp_base=2) + \
            wait_random(0, self.jitter)
        state = SimpleNamespace(attempt_number=max(1, attempt))
        return min(float(wait(state)), self.maximum)  # type: ignore[arg-type]
