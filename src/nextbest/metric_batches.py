"""Observations noted on the request path and added to the Prometheus metrics in batches.

prometheus_client adds one observation a call, each under a lock (with several workers,
into a memory-mapped file): a decision took about ten such calls. Here the request path
appends one tuple to a queue (`Pending.note`), and the queue is added to the metrics
(`flush_all`):

- before every exposition, so that a scrape sees everything this process noted;
- about `FLUSH_INTERVAL_S` after its first entry (a timer on the running event loop), so
  that the files other workers read are at most that late;
- at once when a queue holds `MAX_PENDING` entries, or when no event loop runs;
- at shutdown.

A histogram's buckets each get one increment for all the observations that fell in them
(`HistogramAdder`).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "FLUSH_INTERVAL_S",
    "MAX_PENDING",
    "HistogramAdder",
    "Pending",
    "flush_all",
]

FLUSH_INTERVAL_S = 1.0
MAX_PENDING = 10_000

T = TypeVar("T")


class _Flushes(Protocol):
    def flush(self) -> None: ...


_queues: weakref.WeakSet[_Flushes] = weakref.WeakSet()
_timer_due = 0.0
"""When the scheduled flush should have run (monotonic); 0 when none is scheduled. A
timer whose event loop stopped never runs: past this, the next note schedules another."""


def flush_all() -> None:
    """Add every queue's observations to the metrics."""
    global _timer_due
    _timer_due = 0.0
    for queue in list(_queues):
        queue.flush()


def _schedule() -> None:
    global _timer_due
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        flush_all()
        return
    loop.call_later(FLUSH_INTERVAL_S, flush_all)
    _timer_due = time.monotonic() + 2 * FLUSH_INTERVAL_S


class Pending(Generic[T]):
    """Observations of one kind waiting to be added to the metrics by `add` (all of them
    at once). Safe to note from several threads."""

    def __init__(self, add: Callable[[list[T]], None]) -> None:
        self._items: deque[T] = deque()
        self._add = add
        _queues.add(self)

    def note(self, item: T) -> None:
        items = self._items
        items.append(item)
        if len(items) >= MAX_PENDING:
            self.flush()
        elif time.monotonic() > _timer_due:
            _schedule()

    def flush(self) -> None:
        taken: list[T] = []
        take = self._items.popleft
        try:
            while True:
                taken.append(take())
        except IndexError:
            pass
        if taken:
            self._add(taken)


class HistogramAdder:
    """Adds many observations to one labelled histogram (a child of prometheus_client's
    `Histogram`): one increment per bucket they fall in, and one to the sum. Reads the
    child's buckets and sum (prometheus_client has no public call for several
    observations; tests/test_metric_batches.py checks the result against `observe`); a
    child without them gets `observe` per observation."""

    def __init__(self, child: Any, scale: float = 1.0) -> None:
        """`scale`: the observations' unit per second (1e9 for nanoseconds)."""
        self._scale = scale
        self._observe: Callable[[float], None] = child.observe
        bounds = getattr(child, "_upper_bounds", None)
        buckets = getattr(child, "_buckets", None)
        total = getattr(child, "_sum", None)
        self._direct: tuple[list[float], list[Any], Any] | None = None
        if (
            bounds is not None
            and buckets is not None
            and len(bounds) == len(buckets)
            and all(hasattr(b, "inc") for b in [*buckets, total])
        ):
            self._direct = (list(bounds), list(buckets), total)

    @property
    def direct(self) -> bool:
        """Whether observations are added bucket by bucket (else: `observe` each)."""
        return self._direct is not None

    def add(self, values: Sequence[float]) -> None:
        if self._direct is None:
            for value in values:
                self._observe(value / self._scale)
            return
        if not values:
            return
        bounds, buckets, total = self._direct
        scale = self._scale
        seconds = [v / scale for v in values] if scale != 1.0 else values
        for bucket, count in Counter(bisect_left(bounds, s) for s in seconds).items():
            buckets[bucket].inc(count)
        total.inc(sum(seconds))
