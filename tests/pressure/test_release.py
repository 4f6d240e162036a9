"""A decision that does not get the store's answer in time returns none of the offers the
store may have recorded, and those contacts are taken back: whatever the order in which
its select and its release reach the store, only the offers answered stay recorded."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextbest.bundle import Bundle
from nextbest.pressure import ContactStore, MemoryContactStore
from nextbest.pressure.gate import GateResult, PressureGate
from nextbest.pressure.redis import RedisContactStore, customer_key_prefix
from nextbest.pressure.types import CapCandidate, FeedbackEffect, Selection

StoreFactory = Callable[[], ContactStore]
T = TypeVar("T")
NOW = 1_800_000_000_000
BUDGET_S = 0.004


class Network:
    """A store reached over a network whose delays the test sets: a call reaches the store
    `send` seconds after it is made (or never, when `send` is None) and its answer comes
    back `reply` seconds later. A call its caller gave up on still reaches the store, as a
    command already sent does."""

    def __init__(self, inner: ContactStore) -> None:
        self.inner = inner
        self.delays: dict[tuple[str, str], tuple[float | None, float]] = {}
        self.arriving: set[asyncio.Task[Any]] = set()

    async def _over_the_wire(self, call: str, prefix: str, operation: Coroutine[Any, Any, T]) -> T:
        send, reply = self.delays.get((call, prefix), (0.0, 0.0))
        if send is None:
            operation.close()
            await asyncio.sleep(1.0)  # lost: the caller's budget runs out first
            raise AssertionError("unreachable")
        arrival = asyncio.ensure_future(self._arrive(send, operation))
        self.arriving.add(arrival)
        arrival.add_done_callback(self.arriving.discard)
        result = await asyncio.shield(arrival)
        await asyncio.sleep(reply)
        return result

    @staticmethod
    async def _arrive(send: float, operation: Awaitable[T]) -> T:
        await asyncio.sleep(send)
        return await operation

    async def select(
        self,
        customer_id: str,
        contact_prefix: str,
        candidates: Sequence[CapCandidate],
        limit: int,
        now_ms: int,
        record: bool,
    ) -> Selection:
        operation = self.inner.select(
            customer_id, contact_prefix, candidates, limit, now_ms, record
        )
        return await self._over_the_wire("select", contact_prefix, operation)

    async def release(
        self,
        customer_id: str,
        contact_prefix: str,
        candidates: Sequence[CapCandidate],
        now_ms: int,
    ) -> int:
        operation = self.inner.release(customer_id, contact_prefix, candidates, now_ms)
        return await self._over_the_wire("release", contact_prefix, operation)

    async def apply_feedback(self, customer_id: str, effect: FeedbackEffect, now_ms: int) -> bool:
        return await self.inner.apply_feedback(customer_id, effect, now_ms)

    async def ping(self) -> None:
        await self.inner.ping()

    async def prepare(self) -> None:
        await self.inner.prepare()

    async def aclose(self) -> None:
        await self.inner.aclose()


async def recorded_contacts(store: ContactStore, customer_id: str) -> set[str]:
    """Every contact the store holds for the customer, in any window."""
    if isinstance(store, MemoryContactStore):
        state = store._customers.get(customer_id, {})
        return {key.split("|", 2)[2] for key in state if key.startswith("w|")}
    assert isinstance(store, RedisContactStore)
    client = store._client
    contacts: set[str] = set()
    async for key in client.scan_iter(match=f"{customer_key_prefix(customer_id)}c:*"):
        contacts.update(await client.zrange(key, 0, -1))
    return contacts


def returned_contacts(bundle: Bundle, decisions: dict[str, GateResult]) -> set[str]:
    return {
        f"{decision_id}:{offer}"
        for decision_id, result in decisions.items()
        for offer in result.selected
        if bundle.policies.needs_check("web", offer)
    }


delay = st.sampled_from([0.0, 0.001, 0.003, 0.006, 0.012])
timing = st.tuples(st.one_of(st.none(), delay), delay, delay)
"""(select sent after, or lost; its reply after; the release sent after)."""

_customers = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(timings=st.lists(timing, min_size=1, max_size=10))
def test_only_the_offers_answered_stay_recorded(
    store_factory: StoreFactory,
    demo_bundle: Bundle,
    timings: list[tuple[float | None, float, float]],
) -> None:
    customer = f"C-interleaved-{next(_customers)}"
    ranked = [o.id for o in demo_bundle.offers if "web" in o.channels]

    async def scenario() -> tuple[dict[str, GateResult], set[str]]:
        network = Network(store_factory())
        gate = PressureGate(network, budget_s=BUDGET_S, default_mode="fail_closed")
        gate.breaker.failed = lambda: None  # type: ignore[method-assign]  # every call tries
        for n, (send, reply, release) in enumerate(timings):
            network.delays[("select", f"d{n}")] = (send, reply)
            network.delays[("release", f"d{n}")] = (release, 0.0)
        results = await asyncio.gather(
            *(
                gate.select(demo_bundle.policies, customer, "web", f"d{n}", ranked, 3, True)
                for n in range(len(timings))
            )
        )
        await asyncio.sleep(0.05)  # every select and release that was sent has arrived
        await asyncio.gather(*network.arriving)
        await gate.releaser.drain(5.0)
        recorded = await recorded_contacts(network.inner, customer)
        await gate.aclose()
        return {f"d{n}": result for n, result in enumerate(results)}, recorded

    decisions, recorded = asyncio.run(scenario())
    returned = returned_contacts(demo_bundle, decisions)
    assert recorded == returned
    assert len({c for c in returned if "retention" not in c}) <= 3


@pytest.mark.parametrize("cancelled_after_s", [0.0, 0.002])
def test_a_cancelled_decision_takes_its_contacts_back(
    demo_bundle: Bundle, cancelled_after_s: float
) -> None:
    ranked = [o.id for o in demo_bundle.offers if "web" in o.channels]

    async def scenario() -> tuple[set[str], int]:
        network = Network(MemoryContactStore())
        network.delays[("select", "d1")] = (0.001, 0.005)
        gate = PressureGate(network, budget_s=1.0)
        decision = asyncio.ensure_future(
            gate.select(demo_bundle.policies, "C-gone", "web", "d1", ranked, 3, True)
        )
        await asyncio.sleep(cancelled_after_s)
        decision.cancel()  # the client went away
        with pytest.raises(asyncio.CancelledError):
            await decision
        await asyncio.gather(*network.arriving)
        await gate.releaser.drain(5.0)
        recorded = await recorded_contacts(network.inner, "C-gone")
        return recorded, gate.releaser.released

    recorded, released = asyncio.run(scenario())
    assert recorded == set()
    assert released == 1
