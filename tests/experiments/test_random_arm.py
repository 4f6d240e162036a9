"""`policy: random`: every slot drawn uniformly from the eligible offers the caps allow,
through exploration's sampling (epsilon-greedy with epsilon = 1), with its logged
propensities in the answer's explanation and the history."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from scipy import stats

from experiment_bundles import WithExperiments
from nextbest.bundle import load_bundle
from nextbest.decide import Context, Customer, Decider, DecisionRequest
from nextbest.decide.values import Decision
from nextbest.pressure import MemoryContactStore
from nextbest.pressure.gate import PressureGate
from nextbest.service import decide

DRAWS = 2_000


def random_only() -> list[dict[str, object]]:
    arms = [{"id": "random", "share": 1.0, "policy": "random"}, {"id": "champion", "share": 0.0}]
    return [{"id": "web_test", "salt": "s", "scope": {"channels": ["web"]}, "arms": arms}]


def decisions(decider: Decider, request: DecisionRequest, count: int) -> list[Decision]:
    async def run() -> list[Decision]:
        gate = PressureGate(MemoryContactStore(), budget_s=1.0)
        return [await decide(decider, gate, request) for _ in range(count)]

    return asyncio.run(run())


def test_random_draws_the_first_offer_uniformly(with_experiments: WithExperiments) -> None:
    decider = Decider(load_bundle(with_experiments(random_only())))
    request = DecisionRequest(
        customer=Customer(id="C-r", lifecycle_stage="growing"),
        context=Context(channel="web"),
        limit=2,
        explain=True,
        dry_run=True,
    )
    made = decisions(decider, request, DRAWS)
    eligible = made[0].ranking.order
    assert len(eligible) > 5
    first: Counter[str] = Counter()
    for decision in made:
        response = decision.response
        assert (response.experiment, response.arm) == ("web_test", "random")
        assert response.explanation is not None
        note = response.explanation.exploration
        assert note is not None
        assert note.parameter == 1.0
        assert note.logged_propensities[0] == pytest.approx(1 / len(eligible))
        first[response.offers[0].offer_id] += 1
    assert set(first) <= set(eligible)
    assert stats.chisquare([first[o] for o in eligible]).pvalue > 0.001
    # the champion's first offer would be the same every time; here it is one of many
    assert first[eligible[0]] < DRAWS / 4
