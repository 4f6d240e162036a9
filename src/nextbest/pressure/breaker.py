"""A circuit breaker: after repeated failures, stop calling a sick backend for a while."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["CircuitBreaker", "ShardBreakers"]


class CircuitBreaker:
    """Closed: calls go through. After `failures_to_open` consecutive failures it opens for
    `open_s` seconds (calls are refused at once); then one trial call is let through
    (half-open), and its success closes the breaker.

    Calls that were in flight together and fail together (a burst that outran the budget,
    a server that went away) are one failure, not one per call: a failure counts only
    when its call started after the last failure counted. Otherwise a burst of
    concurrent decisions, a few of them late, opened the breaker and degraded the rest of
    the burst, although the store answered."""

    def __init__(
        self,
        failures_to_open: int = 3,
        open_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._failures_to_open = failures_to_open
        self._open_s = open_s
        self.clock = clock
        self._failures = 0
        self._open_until = 0.0
        self._last_failure = float("-inf")

    def another(self) -> CircuitBreaker:
        """A closed breaker with the same settings."""
        return CircuitBreaker(self._failures_to_open, self._open_s, self.clock)

    @property
    def is_open(self) -> bool:
        return self._failures >= self._failures_to_open and self.clock() < self._open_until

    def allow(self) -> bool:
        """May a call be made now? While open, no; after `open_s`, one trial at a time."""
        if self._failures < self._failures_to_open:
            return True
        now = self.clock()
        if now < self._open_until:
            return False
        self._open_until = now + self._open_s  # the trial; others wait for its outcome
        return True

    def succeeded(self) -> None:
        self._failures = 0
        self._open_until = 0.0

    def failed(self, started: float | None = None) -> None:
        """A call failed; `started`: when it started (on `clock`), if known."""
        now = self.clock()
        if started is not None and started < self._last_failure:
            return  # in flight with the failure counted last
        self._last_failure = now
        self._failures += 1
        if self._failures >= self._failures_to_open:
            self._open_until = now + self._open_s


class ShardBreakers:
    """One breaker per part (shard) of a store, so that a failing part stops the calls to
    it alone: with one breaker for a Redis Cluster, the failures of one primary's customers
    opened it for every customer. `first` is the breaker of the shard "" (a store in one
    part); the others are made like it when their shard is first seen."""

    def __init__(self, first: CircuitBreaker) -> None:
        self.first = first
        self._by_shard = {"": first}

    def __getitem__(self, shard: str) -> CircuitBreaker:
        breaker = self._by_shard.get(shard)
        if breaker is None:
            breaker = self._by_shard[shard] = self.first.another()
        return breaker

    @property
    def is_open(self) -> bool:
        """Whether any shard's breaker is open."""
        return any(breaker.is_open for breaker in self._by_shard.values())
