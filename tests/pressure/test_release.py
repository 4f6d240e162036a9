"""A decision that does not get the store's answer in time returns none of the offers the
store may have recorded, and those contacts are taken back: whatever the order in which
its select and its release reach the store, only the offers answered stay recorded."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import pytest
import uvloop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import store_client
from nextbest.bundle import Bundle
from nextbest.pressure import ContactStore, MemoryContactStore, StoreUnavailableError
from nextbest.pressure.breaker import CircuitBreaker
from nextbest.pressure.gate import GateResult, PressureGate
from nextbest.pressure.redis import RedisContactStore, customer_key_prefix
from nextbest.pressure.release import Releaser
from nextbest.pressure.types import CapCandidate, FeedbackEffect, Selection
from redis_server import RedisServer

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

    def shard(self, customer_id: str) -> str:
        return self.inner.shard(customer_id)

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
        picks: Sequence[float] | None = None,
        budget_s: float | None = None,
    ) -> Selection:
        operation = self.inner.select(
            customer_id, contact_prefix, candidates, limit, now_ms, record, picks
        )
        async with asyncio.timeout(budget_s):
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

    async def apply_feedback(
        self,
        customer_id: str,
        effect: FeedbackEffect,
        now_ms: int,
        budget_s: float | None = None,
    ) -> bool:
        return await self.inner.apply_feedback(customer_id, effect, now_ms, budget_s)

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
    client = store_client(store, customer_id)
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


# the interleavings are the gate's and the releaser's; the cluster runs the same scripts
# (test_store.py's release tests run there), and 40 cluster stores cost 15 s
@pytest.mark.parametrize("store_factory", ["memory", "redis"], indirect=True)
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
        always_try = CircuitBreaker(failures_to_open=2**31)
        gate = PressureGate(
            network, budget_s=BUDGET_S, default_mode="fail_closed", breaker=always_try
        )
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


def test_a_decision_timed_out_by_a_paused_redis_keeps_no_contact(
    redis_server: RedisServer, demo_bundle: Bundle
) -> None:
    ranked = [o.id for o in demo_bundle.offers if "web" in o.channels]
    policies = demo_bundle.policies

    async def scenario() -> list[Any]:
        store = RedisContactStore.from_url(redis_server.url, timeout_s=2.0)
        gate = PressureGate(store, budget_s=0.05)
        assert await gate.reachable(prepare=True, timeout_s=5.0)  # a shared, busy machine
        with redis_server.client() as client:
            # in effect when this returns; long enough that a worker descheduled on a
            # loaded machine still sends its select within it, and shorter than the
            # store's socket timeout, so that the release waits it out and succeeds
            client.client_pause(1500)
        paused = await gate.select(policies, "C-paused", "web", "d-paused", ranked, 3, True)
        await gate.releaser.drain(10.0)  # the pause is over: the release has run
        after_release = await recorded_contacts(store, "C-paused")
        healthy = await gate.select(policies, "C-paused", "web", "d-healthy", ranked, 3, True)
        recorded = await recorded_contacts(store, "C-paused")
        released = gate.releaser.released
        await gate.aclose()
        return [paused, after_release, healthy, recorded, released]

    paused, after_release, healthy, recorded, released = asyncio.run(scenario())
    assert paused.degraded_mode == "fail_closed"
    assert not any(policies.needs_check("web", o) for o in paused.selected)
    assert released == 1
    assert after_release == set()
    assert healthy.degraded_mode is None
    assert recorded == {
        f"d-healthy:{o}" for o in healthy.selected if policies.needs_check("web", o)
    }
    assert len(recorded) == 3


BUSY_SCRIPT = """
local started = redis.call("TIME")
repeat
  local now = redis.call("TIME")
until (now[1] - started[1]) * 1000000 + now[2] - started[2] > tonumber(ARGV[1])
"""


def wait_until_unanswered(port: int) -> None:
    """Return once Redis leaves a PING unanswered for 0.1 s: a script is running (the
    busy script runs 1.5 s, so a worker descheduled for a while after this still sends
    its command while it runs). A plain socket: redis-py's client waited for the reply
    past its socket timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as probe:
        probe.settimeout(0.1)
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            probe.sendall(b"PING\r\n")
            try:
                assert probe.recv(64) == b"+PONG\r\n"
            except TimeoutError:
                return
            time.sleep(0.005)
    raise AssertionError("the busy script did not start within 30 s")


def test_a_select_run_after_its_budget_leaves_no_contact_behind(
    redis_server: RedisServer, demo_bundle: Bundle
) -> None:
    """The burst's failure: Redis runs the select, but its reply comes after the budget
    (here Redis is stalled by a slow script; in the burst, the worker's event loop read
    the reply late)."""
    ranked = [o.id for o in demo_bundle.offers if "web" in o.channels]
    policies = demo_bundle.policies

    def stall_redis() -> None:
        with redis_server.client() as client:
            client.eval(BUSY_SCRIPT, 0, 1_500_000)

    async def scenario() -> list[Any]:
        store = RedisContactStore.from_url(redis_server.url, timeout_s=5.0)
        # the release's one attempt waits the busy script out
        gate = PressureGate(store, budget_s=0.05, releaser=Releaser(store, attempt_s=5.0))
        assert await gate.reachable(prepare=True, timeout_s=5.0)  # a shared, busy machine
        with redis_server.client() as client:
            client.config_resetstat()
        stall = asyncio.ensure_future(asyncio.to_thread(stall_redis))
        await asyncio.to_thread(wait_until_unanswered, redis_server.port)
        late = await gate.select(policies, "C-late", "web", "d-late", ranked, 3, True)
        await stall
        await gate.releaser.drain(5.0)
        recorded = await recorded_contacts(store, "C-late")
        await gate.aclose()
        with redis_server.client() as client:
            calls = client.info("commandstats")["cmdstat_evalsha"]["calls"]
            cancelled = client.exists("nb:{C-late}:x:d-late")
        return [late, recorded, gate.releaser.released, calls, cancelled]

    late, recorded, released, calls, cancelled = asyncio.run(scenario())
    assert late.degraded_mode == "fail_closed"
    assert not any(policies.needs_check("web", o) for o in late.selected)
    assert calls == 2, "the select ran once Redis was free, then its release"
    assert (released, cancelled) == (1, 1)
    assert recorded == set()


class Flaky(Network):
    """Releases fail until `failures` of them have failed."""

    def __init__(self, inner: ContactStore, failures: int) -> None:
        super().__init__(inner)
        self.failures = failures
        self.attempts = 0

    async def release(
        self,
        customer_id: str,
        contact_prefix: str,
        candidates: Sequence[CapCandidate],
        now_ms: int,
    ) -> int:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise StoreUnavailableError("redis: ConnectionError: refused")
        return await self.inner.release(customer_id, contact_prefix, candidates, now_ms)


def test_a_failed_release_is_retried_until_it_succeeds_or_is_too_old(
    demo_bundle: Bundle,
) -> None:
    candidates = [demo_bundle.policies.candidate("web", "gas_supply")]

    async def scenario(failures: int, give_up_s: float) -> list[Any]:
        store = Flaky(MemoryContactStore(), failures)
        await store.inner.select("C-1", "d1", candidates, 1, NOW, True)
        releaser = Releaser(store, first_retry_s=0.001, last_retry_s=0.004, give_up_s=give_up_s)
        releaser.submit("C-1", "d1", candidates, NOW)
        await releaser.drain(2.0)
        recorded = await recorded_contacts(store.inner, "C-1")
        return [store.attempts, releaser.released, releaser.abandoned, recorded]

    assert asyncio.run(scenario(3, 60.0)) == [4, 1, 0, set()]
    attempts, released, abandoned, recorded = asyncio.run(scenario(10**6, 0.05))
    assert (released, abandoned, recorded) == (0, 1, {"d1:gas_supply"})
    assert attempts > 3


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_reply_read_late_by_a_busy_worker_is_taken_not_discarded(
    redis_server: RedisServer, demo_bundle: Bundle, loop: str
) -> None:
    """The budget measures the store, not the worker's own queue: Redis answers within
    the budget, but the worker's event loop is busy (here: blocked) past the budget
    before it reads its sockets. The reply is there when the budget's timer fires, so it
    is taken."""
    ranked = [o.id for o in demo_bundle.offers if "web" in o.channels]
    policies = demo_bundle.policies

    async def scenario() -> list[Any]:
        store = RedisContactStore.from_url(redis_server.url, timeout_s=2.0)
        gate = PressureGate(store, budget_s=0.05)
        assert await gate.reachable(prepare=True, timeout_s=5.0)
        with redis_server.client() as client:
            client.client_pause(40)  # so that the reply comes while the worker is busy
        decision = asyncio.ensure_future(
            gate.select(policies, "C-busy", "web", "d-busy", ranked, 3, True)
        )
        await asyncio.sleep(0.01)  # the select is sent and waits for its reply
        time.sleep(0.3)  # the worker is busy with something else, far past the budget
        answered = await decision
        await gate.releaser.drain(5.0)
        recorded = await recorded_contacts(store, "C-busy")
        await gate.aclose()
        return [answered, recorded, gate.releaser.released]

    answered, recorded, released = (
        uvloop.run(scenario()) if loop == "uvloop" else asyncio.run(scenario())
    )
    assert answered.degraded_mode is None
    assert released == 0
    assert recorded == {f"d-busy:{o}" for o in answered.selected if policies.needs_check("web", o)}
    assert len(recorded) == 3
