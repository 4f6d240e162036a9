"""Observations added to the metrics in batches give the samples one `observe` each gives;
a batch waits at most about a second on a running event loop, and none without one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from nextbest import metric_batches
from nextbest.metric_batches import HistogramAdder, Pending, flush_all

BUCKETS = (25e-6, 1e-3, 0.01, 0.5)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }


def _histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram("t_seconds", "t", ["stage"], buckets=BUCKETS, registry=registry)


def test_a_batch_fills_the_buckets_and_sum_as_observations_one_by_one() -> None:
    nanoseconds = [0, 25_000, 25_001, 1_000_000, 9_900_000, 10_000_000, 200_000_000]
    nanoseconds += [500_000_000, 750_000_000, 12_000_000_000, 3_000, 24_999]
    one_by_one, batched = CollectorRegistry(), CollectorRegistry()
    observed = _histogram(one_by_one).labels("total")
    for value in nanoseconds:
        observed.observe(value / 1e9)
    adder = HistogramAdder(_histogram(batched).labels("total"), scale=1e9)
    assert adder.direct  # the installed prometheus_client: bucket by bucket
    adder.add(nanoseconds[:4])
    adder.add(nanoseconds[4:])
    adder.add([])
    expected, got = _samples(one_by_one), _samples(batched)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9), key


class _ObserveOnly:
    def __init__(self) -> None:
        self.seen: list[float] = []

    def observe(self, value: float) -> None:
        self.seen.append(value)


def test_a_histogram_without_buckets_to_add_to_is_observed_one_by_one() -> None:
    child = _ObserveOnly()
    adder = HistogramAdder(child, scale=1e3)
    assert not adder.direct
    adder.add([1500, 20])
    assert child.seen == [1.5, 0.02]


@pytest.fixture
def counted() -> tuple[Counter, Pending[str]]:
    counter = Counter("t_total", "t", ["kind"], registry=CollectorRegistry())

    def add(kinds: list[str]) -> None:
        for kind in set(kinds):
            counter.labels(kind).inc(kinds.count(kind))

    return counter, Pending(add)


def _value(counter: Counter, kind: str) -> float:
    value: Any = counter.labels(kind)._value.get()
    return float(value)


def test_notes_wait_for_the_timer_on_an_event_loop(
    counted: tuple[Counter, Pending[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    counter, pending = counted
    flush_all()  # no timer of an earlier test's loop in the way
    monkeypatch.setattr(metric_batches, "FLUSH_INTERVAL_S", 0.05)

    async def scenario() -> tuple[float, float]:
        for _ in range(3):
            pending.note("a")
        noted = _value(counter, "a")
        await asyncio.sleep(0.3)
        return noted, _value(counter, "a")

    noted, later = asyncio.run(scenario())
    assert noted == 0
    assert later == 3


def test_notes_without_an_event_loop_or_past_the_limit_are_added_at_once(
    counted: tuple[Counter, Pending[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    counter, pending = counted
    flush_all()
    pending.note("b")
    assert _value(counter, "b") == 1
    monkeypatch.setattr(metric_batches, "MAX_PENDING", 4)
    monkeypatch.setattr(metric_batches, "FLUSH_INTERVAL_S", 60.0)

    async def scenario() -> list[float]:
        seen = []
        for _ in range(4):
            pending.note("c")
            seen.append(_value(counter, "c"))
        return seen

    assert asyncio.run(scenario()) == [0, 0, 0, 4]
    flush_all()


def test_a_timer_whose_loop_stopped_is_replaced(
    counted: tuple[Counter, Pending[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop that stops before its timer fires (a test client's, a restarted server's)
    must not leave later notes waiting for a flush that never comes."""
    counter, pending = counted
    flush_all()
    monkeypatch.setattr(metric_batches, "FLUSH_INTERVAL_S", 0.05)

    async def note_and_leave() -> None:
        pending.note("d")

    asyncio.run(note_and_leave())  # its timer dies with its loop

    async def later() -> float:
        await asyncio.sleep(0.15)  # past the dead timer's due time
        pending.note("d")
        await asyncio.sleep(0.3)
        return _value(counter, "d")

    assert asyncio.run(later()) == 2
