"""Feedback waits for the store within a budget the store keeps, as decisions do: a reply
that reached a busy worker after the budget is the feedback's answer (not a 503 for
feedback that was applied), and a store that does not answer still fails it in time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import uvloop
from test_release import BUSY_SCRIPT, wait_until_unanswered

from nextbest.bundle import Bundle
from nextbest.pressure import StoreUnavailableError
from nextbest.pressure.gate import PressureGate
from nextbest.pressure.redis import RedisContactStore
from redis_server import RedisServer

NOW = 1_800_000_000_000


def _gate(redis_server: RedisServer) -> PressureGate:
    # the feedback budget is max(budget, 50 ms)
    return PressureGate(RedisContactStore.from_url(redis_server.url, timeout_s=2.0), budget_s=0.01)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_feedback_reply_read_late_by_a_busy_worker_is_its_answer(
    redis_server: RedisServer, demo_bundle: Bundle, loop: str
) -> None:
    """Redis answers within the budget, but the worker's event loop is busy (here:
    blocked) past it before it reads its sockets. A timer around the call answered 503
    although the feedback was applied, and the client's retry was then a duplicate."""
    effect = demo_bundle.policies.feedback_effect(
        "web", "gas_supply", "declined", "d-late:gas_supply", "k-late"
    )

    async def scenario() -> list[Any]:
        gate = _gate(redis_server)
        assert await gate.reachable(prepare=True, timeout_s=5.0)
        with redis_server.client() as client:
            client.client_pause(40)  # so that the reply comes while the worker is busy
        feedback = asyncio.ensure_future(gate.feedback("C-late", effect, NOW))
        await asyncio.sleep(0.01)  # the script is sent and waits for its reply
        time.sleep(0.3)  # the worker is busy with something else, far past the budget
        try:
            answered: bool | str = await feedback
        except StoreUnavailableError as exc:
            answered = str(exc)
        retried = await gate.feedback("C-late", effect, NOW)
        await gate.aclose()
        return [answered, retried]

    answered, retried = uvloop.run(scenario()) if loop == "uvloop" else asyncio.run(scenario())
    assert answered is True, "applied, and answered so"
    assert retried is False, "the same event again is a duplicate"


def test_a_feedback_the_store_does_not_answer_fails_while_the_store_is_still_stalled(
    redis_server: RedisServer, demo_bundle: Bundle
) -> None:
    """No timer around the call any more: the budget is the store's to keep, and a stalled
    Redis still fails the feedback within it (the stall outlasts the feedback). The
    script runs once Redis is free: the client's retry then answers `duplicate`."""
    effect = demo_bundle.policies.feedback_effect(
        "web", "gas_supply", "declined", "d-stalled:gas_supply", "k-stalled"
    )

    def stall_redis() -> None:
        with redis_server.client() as client:
            client.eval(BUSY_SCRIPT, 0, 1_500_000)

    async def scenario() -> list[Any]:
        gate = _gate(redis_server)
        assert await gate.reachable(prepare=True, timeout_s=5.0)
        stall = asyncio.ensure_future(asyncio.to_thread(stall_redis))
        await asyncio.to_thread(wait_until_unanswered, redis_server.port)
        try:
            answered: bool | str = await gate.feedback("C-stalled", effect, NOW)
        except StoreUnavailableError as exc:
            answered = str(exc)
        stalled_when_answered = not stall.done()
        await stall
        retried = await gate.feedback("C-stalled", effect, NOW)
        await gate.aclose()
        return [answered, stalled_when_answered, retried]

    answered, stalled_when_answered, retried = asyncio.run(scenario())
    assert answered == "redis: LateReplyError: no reply within the budget"
    assert stalled_when_answered
    assert retried is False
