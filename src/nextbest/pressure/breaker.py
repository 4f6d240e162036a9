"""A circuit breaker: after repeated failures, stop calling a sick backend for a while."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Closed: calls go through. After `failures_to_open` consecutive failures it opens for
    `open_s` seconds (calls are refused at once); then one trial call is let through
    (half-open), and its success closes the breaker."""

    def __init__(
        self,
        failures_to_open: int = 3,
        open_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._failures_to_open = failures_to_open
        self._open_s = open_s
        self._clock = clock
        self._failures = 0
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        return self._failures >= self._failures_to_open and self._clock() < self._open_until

    def allow(self) -> bool:
        """May a call be made now? While open, no; after `open_s`, one trial at a time."""
        if self._failures < self._failures_to_open:
            return True
        now = self._clock()
        if now < self._open_until:
            return False
        self._open_until = now + self._open_s  # the trial; others wait for its outcome
        return True

    def succeeded(self) -> None:
        self._failures = 0
        self._open_until = 0.0

    def failed(self) -> None:
        self._failures += 1
        if self._failures >= self._failures_to_open:
            self._open_until = self._clock() + self._open_s
