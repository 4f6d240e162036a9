"""The candidate replayed on logged decisions: its action per slot, the refusals and the
overlap warnings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import numpy as np
import pytest

from experiment_bundles import write_experiments
from nextbest.bundle import load_bundle, seal_bundle
from nextbest.decide import Decider
from nextbest.evaluation.evaluate import evaluate_replay
from nextbest.evaluation.replay import bundle_policy, replay, request_of
from nextbest.exploration.propensity import EpsilonGreedy, Greedy, rank_probabilities
from nextbest.history.export import JoinedDecision
from nextbest.history.records import DecisionRecord, OfferShown

T0 = datetime(2026, 11, 1, tzinfo=UTC)
FIELDS = {
    "customer.clv": 2400.0,
    "customer.lifecycle_stage": "loyal",
    "customer.attributes.tenure_months": 60.0,
    "context.channel": "call_center",
    "context.call_reason": "move_house",
    "context.wait_time_s": 30.0,
}


def _record(n: int, offers: list[str], logged: float = 1.0, **changes: object) -> DecisionRecord:
    record = DecisionRecord(
        decision_id=f"d{n}",
        at=T0 + timedelta(seconds=n),
        bundle_name="demo-energy",
        bundle_version="1",
        customer_id=f"C{n}",
        channel="call_center",
        fields=dict(FIELDS),
        offers=[
            OfferShown(
                offer_id=o,
                rank=k + 1,
                category="upsell",
                propensity=0.1,
                priority=1.0,
                value=10.0,
                logged_propensity=logged,
            )
            for k, o in enumerate(offers)
        ],
    )
    return msgspec.structs.replace(record, **changes)


@pytest.fixture(scope="module")
def order(decider: Decider) -> tuple[str, ...]:
    return decider.rank(request_of(_record(0, ["x", "y", "z"]), 3)).order


def test_the_request_is_rebuilt_from_the_record(decider: Decider) -> None:
    request = request_of(_record(0, []), 3)
    assert request.customer.id == "C0"
    assert request.customer.clv == 2400.0
    assert request.customer.attributes == {"tenure_months": 60.0}
    assert request.context.call_reason == "move_house"
    assert decider.rank(request).facts["customer.lifecycle_stage"] == "loyal"


def test_the_candidate_acts_in_the_slots_the_logger_filled(
    decider: Decider, order: tuple[str, ...]
) -> None:
    agreeing = _record(1, list(order[:2]), logged=0.5)
    disagreeing = _record(2, [order[1], order[0], order[2]], logged=0.25)
    result = replay(
        decider,
        [
            JoinedDecision(agreeing, {order[0]: 1, order[1]: 0}),
            JoinedDecision(disagreeing, {order[1]: 1, order[0]: None, order[2]: "discarded"}),
        ],
    )
    assert result.slots.present.tolist() == [[1, 1, 0], [1, 1, 1]]
    assert result.slots.target.tolist() == [[1, 1, 0], [0, 0, 1]]
    assert result.slots.weights.tolist() == [[2, 2, 0], [0, 0, 4]]
    assert result.acceptance.observed.tolist() == [[1, 0, 0], [1, 0, 0]]
    ranking = decider.rank(request_of(agreeing, 3))
    index = {o.id: o.index for o in decider.bundle.offers}
    top = index[order[0]]
    assert result.acceptance.direct[0, 0] == pytest.approx(ranking.propensity[top])
    assert result.value.observed[0, 0] == pytest.approx(ranking.value[top])
    assert result.value.direct[1, 0] == pytest.approx(ranking.propensity[top] * ranking.value[top])
    assert result.counts.no_overlap_slots == 0


def test_rows_without_a_usable_logged_propensity_are_refused(
    decider: Decider, order: tuple[str, ...]
) -> None:
    result = replay(
        decider,
        [
            JoinedDecision(_record(1, [order[0]], logged=0.0), {}),
            JoinedDecision(_record(2, [order[0]], logged=float("nan")), {}),
            JoinedDecision(_record(3, [order[0]], logged=1.5), {}),
            JoinedDecision(_record(4, [order[0]], logged=0.5), {}),
        ],
    )
    assert (result.counts.decisions, result.counts.refused_propensity) == (4, 3)
    assert result.slots.present.shape == (1, 1)
    evaluation = evaluate_replay("c", result, resamples=50)
    assert any("refused 3 decisions" in w for w in evaluation.warnings())


def test_a_deterministic_log_warns_that_only_agreement_counts(
    decider: Decider, order: tuple[str, ...]
) -> None:
    result = replay(
        decider,
        [
            JoinedDecision(_record(1, [order[0]]), {order[0]: 1}),
            JoinedDecision(_record(2, [order[1]]), {order[1]: 1}),
        ],
    )
    warnings = evaluate_replay("c", result, resamples=50).warnings()
    assert any("deterministic logging policy" in w and "(1 of 2)" in w for w in warnings)
    assert any("in 1 of 2 slots" in w for w in warnings)
    assert not any(f"{order[0]}@1" in w for w in warnings)
    assert result.counts.unexplored == set()


def test_offers_the_logs_never_showed_at_a_rank_are_named(
    decider: Decider, order: tuple[str, ...]
) -> None:
    result = replay(decider, [JoinedDecision(_record(1, [order[1]], logged=0.5), {})])
    assert result.counts.unexplored == {(1, order[0])}
    warnings = evaluate_replay("c", result, resamples=50).warnings()
    assert any(f"{order[0]}@1" in w for w in warnings)


def test_fields_the_candidate_refuses_are_counted(decider: Decider) -> None:
    unknown = _record(1, ["green_tariff_upgrade"], logged=0.5, channel="fax")
    result = replay(decider, [JoinedDecision(unknown, {})])
    assert result.counts.refused_request == 1
    assert result.counts.evaluated == 0
    assert result.slots.present.shape == (0, 1)


def test_an_exploring_candidate_weighs_each_offer_by_its_rank_probability(
    decider: Decider, order: tuple[str, ...]
) -> None:
    record = _record(1, [order[2], order[0]], logged=0.1)
    result = replay(decider, [JoinedDecision(record, {})], lambda _r: EpsilonGreedy(0.5))
    ranking = decider.rank(request_of(record, 2))
    exact = rank_probabilities(ranking.order, 2, EpsilonGreedy(0.5))
    assert result.slots.target[0].tolist() == pytest.approx(
        [exact.probability(order[2], 1), exact.probability(order[0], 2)]
    )
    index = {o.id: o.index for o in decider.bundle.offers}
    expected = sum(exact.probability(o, 1) * ranking.propensity[index[o]] for o in ranking.order)
    assert result.acceptance.direct[0, 0] == pytest.approx(expected)
    assert len(result.counts.unexplored) > len(ranking.order)  # every offer, both ranks


def test_the_candidate_explores_as_its_exploration_file_says(bundle_copy: Path) -> None:
    (bundle_copy / "exploration.yaml").write_text(
        "exploration:\n  - channel: call_center\n    epsilon: 0.2\n"
    )
    seal_bundle(bundle_copy)
    policy_for = bundle_policy(load_bundle(bundle_copy))
    assert policy_for(_record(1, [])) == EpsilonGreedy(0.2)
    assert policy_for(_record(2, [], channel="web")) == Greedy()


def test_arm_replays_every_decision_in_one_arm(bundle_copy: Path) -> None:
    """`evaluate --arm`: the candidate is one arm of its experiment for every customer,
    whatever arm the customer's hash would give; a `random` arm explores uniformly."""
    arms = [{"id": "random", "share": 0.0, "policy": "random"}, {"id": "champion", "share": 1.0}]
    write_experiments(
        bundle_copy,
        [{"id": "cc", "salt": "s", "scope": {"channels": ["call_center"]}, "arms": arms}],
    )
    decider = Decider(load_bundle(bundle_copy))
    record = _record(1, ["x", "y"], logged=0.25)
    own = replay(decider, [JoinedDecision(record, {})])
    in_random = replay(decider, [JoinedDecision(record, {})], arm=decider.arm("cc:random"))
    eligible = len(decider.rank(request_of(record, 2)).order)
    assert in_random.slots.target.shape == own.slots.target.shape
    # the logged offers are not the bundle's: only the random arm gives them any weight
    assert own.slots.target[0].tolist() == [0.0, 0.0]
    assert decider.arm("random") == decider.arm("cc:random")
    uniform = rank_probabilities(decider.rank(request_of(record, 2)).order, 2, EpsilonGreedy(1))
    assert uniform.matrix[0, 0] == pytest.approx(1 / eligible)
    assert in_random.acceptance.direct[0, 0] == pytest.approx(
        float(np.mean(decider.rank(request_of(record, 2)).propensity[_eligible(decider, record)]))
    )


def test_an_unknown_arm_is_refused_naming_the_arms(bundle_copy: Path) -> None:
    arms = [{"id": "a", "share": 0.5}, {"id": "b", "share": 0.5, "policy": "rules_only"}]
    write_experiments(bundle_copy, [{"id": "web_test", "salt": "s", "arms": arms}])
    with pytest.raises(KeyError, match="web_test:a, web_test:b"):
        Decider(load_bundle(bundle_copy)).arm("c")


def _eligible(decider: Decider, record: DecisionRecord) -> list[int]:
    index = {o.id: o.index for o in decider.bundle.offers}
    return [index[o] for o in decider.rank(request_of(record, 2)).order]
