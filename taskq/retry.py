"""Backoff between attempts: a pure function of the attempt number (tenacity's
wait_exponential plus wait_random, written out so that a worker does not import tenacity)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

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
        exponent = max(1, attempt) - 1
        if (self.initial > 0 and self.maximum > 0 and math.isfinite(self.maximum)
                and exponent > math.log(self.maximum, 2) - math.log(self.initial, 2)):
            wait = self.maximum
        else:
            try:
                wait = min(self.initial * 2**exponent, self.maximum)
            except OverflowError:
                wait = self.maximum
        return min(float(wait + random.random() * self.jitter), self.maximum)
