"""`NEXTBEST_REDIS_WAIT_REPLICAS`: a call that records is acknowledged only once replicated;
a WAIT that falls short is a store that did not answer. On one redis-server without
replicas, WAIT 1 always falls short."""

from __future__ import annotations

import asyncio

import pytest

from nextbest.bundle import Bundle
from nextbest.pressure import StoreUnavailableError
from nextbest.pressure.breaker import CircuitBreaker
from nextbest.pressure.gate import GateResult, PressureGate
from nextbest.pressure.redis import RedisContactStore, customer_key_prefix
from nextbest.pressure.types import FeedbackEffect
from redis_server import RedisServer

BUDGET_S = 0.05


def _recorded(server: RedisServer, customer: str) -> set[str]:
    with server.client() as client:
        return {
            member
            for key in client.keys(f"{customer_key_prefix(customer)}c:*")
            for member in client.zrange(key, 0, -1)
        }


@pytest.mark.parametrize("wait_replicas", [1, 0])
def test_a_write_too_few_replicas_acknowledged_is_degraded_and_taken_back(
    redis_server: RedisServer, demo_bundle: Bundle, wait_replicas: int
) -> None:
    ranked = [o.id for o in demo_bundle.offers if "web" in o.channels]

    async def scenario() -> tuple[GateResult, GateResult, bool]:
        store = RedisContactStore.from_url(
            redis_server.url, timeout_s=BUDGET_S, warm_connections=2, wait_replicas=wait_replicas
        )
        gate = PressureGate(store, budget_s=BUDGET_S, breaker=CircuitBreaker(failures_to_open=100))
        await store.prepare()
        recorded = await gate.select(demo_bundle.policies, "C-w", "web", "d1", ranked, 3, True)
        looked = await gate.select(demo_bundle.policies, "C-w", "web", "d2", ranked, 3, False)
        effect = FeedbackEffect("event-1", "d1:x", set_markers=(("no_repeat:x", 1000),))
        try:
            await gate.feedback("C-w", effect, 1_800_000_000_000)
            feedback_written = True
        except StoreUnavailableError:
            feedback_written = False
        await gate.aclose()
        return recorded, looked, feedback_written

    recorded, looked, feedback_written = asyncio.run(scenario())
    capped = [o for o in ranked if demo_bundle.policies.needs_check("web", o)]
    assert looked.degraded_mode is None, "a call that records nothing does not wait"
    if wait_replicas:  # no replica: the store has not answered, the contacts are taken back
        assert recorded.degraded_mode == "fail_closed"
        assert recorded.store_error == "StoreUnavailableError"
        assert not set(recorded.selected) & set(capped)
        assert _recorded(redis_server, "C-w") == set()
        assert not feedback_written
    else:
        assert recorded.degraded_mode is None
        returned = {f"d1:{o}" for o in recorded.selected if o in capped}
        assert returned
        assert _recorded(redis_server, "C-w") == returned
        assert feedback_written
