"""Decisions ranked at the same moment share one ONNX run and get the scores they would
have got alone."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import msgspec
import numpy as np
import numpy.typing as npt
import pytest

from helpers import decision_request
from nextbest.bundle import Bundle
from nextbest.decide import Decider, DecisionRequest
from nextbest.scoring.batch import ScoringBatcher


def _requests() -> list[DecisionRequest]:
    bodies = [
        decision_request(customer_id=f"C-{n}", call_reason=reason)
        for n, reason in enumerate(["move_house", "complaint", "billing_question", "tariff_change"])
    ]
    bodies.append(decision_request(customer_id="C-web", channel="web"))
    return [msgspec.convert(body, DecisionRequest) for body in bodies]


def test_a_batch_scores_each_request_as_alone(demo_bundle: Bundle) -> None:
    decider = Decider(demo_bundle)
    requests = _requests()

    async def together() -> list[npt.NDArray[np.float64]]:
        rankings = await asyncio.gather(*(decider.rank_together(r) for r in requests))
        return [r.propensity for r in rankings]

    batched = asyncio.run(together())
    again = asyncio.run(together())  # the repeated offer columns, reused
    assert decider.scorer.batcher.runs == 2
    for request, first, second in zip(requests, batched, again, strict=True):
        alone = decider.rank(request).propensity
        np.testing.assert_allclose(first, alone, atol=1e-7)
        np.testing.assert_allclose(second, alone, atol=1e-7)


def test_decisions_in_different_turns_are_scored_apart(demo_bundle: Bundle) -> None:
    decider = Decider(demo_bundle)
    requests = _requests()

    async def one_by_one() -> None:
        for request in requests:
            await decider.rank_together(request)

    asyncio.run(one_by_one())
    assert decider.scorer.batcher.runs == len(requests)


def test_a_decision_that_starts_in_the_next_turn_joins_the_batch() -> None:
    sizes: list[int] = []

    def score_many(items: list[int]) -> list[int]:
        sizes.append(len(items))
        return [i * 10 for i in items]

    batcher: ScoringBatcher[int, int] = ScoringBatcher(score_many)

    async def one_turn_later(item: int, turns: int) -> int:
        for _ in range(turns):
            await asyncio.sleep(0)
        return await batcher.score(item)

    async def scenario() -> list[int]:
        return list(
            await asyncio.gather(
                batcher.score(1), one_turn_later(2, 1), one_turn_later(3, 2), one_turn_later(4, 3)
            )
        )

    assert asyncio.run(scenario()) == [10, 20, 30, 40]
    assert sizes == [2, 2]


def test_a_batch_is_split_at_its_limit_and_a_failure_reaches_every_waiter() -> None:
    sizes: list[int] = []

    def score_many(items: list[int]) -> list[int]:
        sizes.append(len(items))
        if -1 in items:
            raise RuntimeError("model failed")
        return [i * 10 for i in items]

    batcher: ScoringBatcher[int, int] = ScoringBatcher(score_many, max_batch=4)

    async def scenario() -> tuple[list[int], list[object]]:
        scores = await asyncio.gather(*(batcher.score(i) for i in range(10)))
        failed = await asyncio.gather(batcher.score(-1), batcher.score(5), return_exceptions=True)
        return list(scores), list(failed)

    scores, failed = asyncio.run(scenario())
    assert scores == [i * 10 for i in range(10)]
    assert sizes[:3] == [4, 4, 2]
    assert all(isinstance(f, RuntimeError) for f in failed)


@pytest.fixture
def no_cycle_collector() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.usefixtures("no_cycle_collector")
def test_a_replaced_decider_is_freed_without_the_cycle_collector(demo_bundle: Bundle) -> None:
    # the app freezes start-up objects out of the collector: a reload must not leak them
    decider = Decider(demo_bundle)
    asyncio.run(decider.rank_together(_requests()[0]))
    gone = weakref.ref(decider)
    del decider
    assert gone() is None
