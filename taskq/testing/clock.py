"""The fake clock of the in-memory backend: the wall clock plus every second a test advanced.

It is an offset rather than a frozen time because enqueue stamps jobs with the real clock
(`delay=60` means time.time() + 60); an offset keeps those stamps and the clock that decides
what is due on one time line, so `advance(60)` makes that job due, and nothing sleeps.
"""

from __future__ import annotations

import time

from taskq.errors import ConfigurationError


class FakeClock:
    """`now()` = time.time() + the seconds advanced so far. Never goes back."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    __call__ = now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds`; returns the new now()."""
        if seconds < 0:
            raise ConfigurationError("the test clock only moves forward; seconds must be >= 0")
        self.offset += seconds
        return self.now()

    def advance_to(self, when: float) -> float:
        """Move the clock forward to epoch second `when` (no-op if already past it)."""
        return self.advance(max(0.0, when - self.now()))
