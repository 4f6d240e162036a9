"""Each kind of arm does what it says, with the bundle's real models: `rules_only` ranks
without the propensity, `no_offer` returns service activities or nothing, a model
override scores with the other model, levers and context weights replace the bundle's."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import yaml

from experiment_bundles import CHALLENGER, WithExperiments
from nextbest.bundle import load_bundle, seal_bundle
from nextbest.decide import Context, Customer, Decider, DecisionRequest, DecisionResponse
from nextbest.decide.facts import RequestReader

REQUESTS = [
    {"channel": "web"},
    {"channel": "web", "call_reason": "move_house", "stage": "loyal", "clv": 2500.0},
    {"channel": "web", "call_reason": "contract_cancellation", "stage": "at_risk", "clv": 900.0},
    {"channel": "web", "call_reason": "billing_question", "stage": "new"},
    {"channel": "web", "call_reason": "meter_reading", "stage": "growing", "clv": 300.0},
    {"channel": "web", "call_reason": "payment_issue", "stage": "lapsed", "clv": 50.0},
]


def only(arm: dict[str, Any]) -> list[dict[str, Any]]:
    """One experiment on the web channel whose every customer is in `arm` (the other arm,
    the champion, has share 0)."""
    return [
        {
            "id": "web_test",
            "salt": "s",
            "scope": {"channels": ["web"]},
            "arms": [{"share": 1.0, **arm}, {"id": "champion", "share": 0.0}],
        }
    ]


def explained(customer: str = "C-1", limit: int = 25, **facts: Any) -> DecisionRequest:
    return DecisionRequest(
        customer=Customer(id=customer, clv=facts.get("clv"), lifecycle_stage=facts.get("stage")),
        context=Context(channel=facts["channel"], call_reason=facts.get("call_reason")),
        limit=limit,
        explain=True,
    )


def ask(decider: Decider, customer: str = "C-1", limit: int = 25, **facts: Any) -> DecisionResponse:
    return decider.decide(explained(customer, limit, **facts)).response


def ranked(response: DecisionResponse) -> list[str]:
    return [o.offer_id for o in response.offers]


def candidates(response: DecisionResponse) -> dict[str, Any]:
    assert response.explanation is not None
    return {c.offer_id: c for c in response.explanation.candidates}


def test_rules_only_ranks_by_priority_without_the_propensity(
    with_experiments: WithExperiments, decider: Decider
) -> None:
    arm = Decider(load_bundle(with_experiments(only({"id": "rules", "policy": "rules_only"}))))
    differs = 0
    for facts in REQUESTS:
        response = ask(arm, **facts)
        assert (response.experiment, response.arm) == ("web_test", "rules")
        assert response.explanation is not None
        assert "propensity is not used" in response.explanation.formula
        eligible = [c for c in response.explanation.candidates if c.outcome == "selected"]
        for c in eligible:
            assert c.priority == pytest.approx(c.context_weight * c.value * c.lever * c.boost)
        expected = sorted(
            eligible,
            key=lambda c: (
                not c.pinned,
                -c.context_weight * c.value * c.lever * c.boost,
                c.offer_id,
            ),
        )
        assert ranked(response) == [c.offer_id for c in expected]
        differs += ranked(response) != ranked(ask(decider, **facts))
    assert differs  # the propensity does change the champion's ranking


def test_no_offer_returns_service_activities_only(
    with_experiments: WithExperiments,
) -> None:
    arm = Decider(load_bundle(with_experiments(only({"id": "control", "policy": "no_offer"}))))
    served_some = False
    for facts in REQUESTS:
        response = ask(arm, **facts)
        assert {o.category for o in response.offers} <= {"service"}
        served_some |= bool(response.offers)
        for c in candidates(response).values():
            if c.category != "service":
                assert (c.outcome, c.reason) == ("dropped", "arm:control")
    assert served_some


def test_no_offer_without_service_returns_nothing(with_experiments: WithExperiments) -> None:
    arm = Decider(
        load_bundle(
            with_experiments(only({"id": "control", "policy": "no_offer", "keep_service": False}))
        )
    )
    for facts in REQUESTS:
        response = ask(arm, **facts)
        assert response.offers == []
        assert response.arm == "control"


def test_levers_and_context_weights_replace_the_bundles(
    with_experiments: WithExperiments, decider: Decider
) -> None:
    weights = {"call_reason": {"move_house": {"upsell": 3.0}}}
    arm = Decider(
        load_bundle(
            with_experiments(
                only(
                    {
                        "id": "push",
                        "levers": {"upsell": 2.0, "green_tariff_upgrade": 0.5},
                        "context_weights": weights,
                    }
                )
            )
        )
    )
    facts = REQUESTS[1]  # move_house, loyal
    ours, champion = candidates(ask(arm, **facts)), candidates(ask(decider, **facts))
    assert ours["green_tariff_upgrade"].lever == 0.5  # the offer's own entry wins
    assert ours["smart_meter"].lever == 2.0
    assert ours["gas_supply"].lever == champion["gas_supply"].lever == 1.0
    assert ours["smart_meter"].context_weight == 3.0  # the bundle's loyal x 1.3 is gone
    assert champion["smart_meter"].context_weight == pytest.approx(1.1 * 1.3)
    assert ours["gas_supply"].context_weight == 1.0  # cross_sell x 1.6: not in the arm's table
    for offer_id, c in ours.items():
        assert c.propensity == champion[offer_id].propensity
        assert c.priority == pytest.approx(
            c.propensity * c.context_weight * c.value * c.lever * c.boost, rel=1e-3
        )  # of the rounded figures the answer shows


def test_a_model_override_scores_with_the_other_model(
    challenger_bundle: Path, with_experiments: WithExperiments, tmp_path: Path
) -> None:
    moved = {"upsell": CHALLENGER, "gas_supply": CHALLENGER}
    arm = Decider(
        load_bundle(with_experiments(only({"id": "new_model", "models": moved}), challenger_bundle))
    )
    champion = Decider(load_bundle(challenger_bundle))
    # the same offers moved in offers.yaml: the reference the arm must agree with
    reference_root = tmp_path / "reference"
    shutil.copytree(challenger_bundle, reference_root)
    offers_file = reference_root / "offers.yaml"
    catalogue = yaml.safe_load(offers_file.read_text())
    for offer in catalogue["offers"]:
        if offer["category"] == "upsell" or offer["id"] == "gas_supply":
            offer["model"] = CHALLENGER
    offers_file.write_text(yaml.safe_dump(catalogue, sort_keys=False))
    seal_bundle(reference_root)
    reference = Decider(load_bundle(reference_root))

    moved_ids = {"green_tariff_upgrade", "fixed_price_guarantee", "smart_meter"}
    moved_ids |= {"ev_charging_tariff", "gas_supply"}
    changed = 0
    for facts in REQUESTS:
        ours = candidates(ask(arm, **facts))
        theirs = candidates(ask(reference, **facts))
        before = candidates(ask(champion, **facts))
        for offer_id, c in ours.items():
            assert c.propensity == theirs[offer_id].propensity
            if offer_id in moved_ids:
                changed += c.propensity != before[offer_id].propensity
            else:
                assert c.propensity == before[offer_id].propensity
    assert changed > len(REQUESTS)  # the challenger scores differently from the champion


def test_the_arm_shares_the_bundles_model_sessions(
    challenger_bundle: Path, with_experiments: WithExperiments
) -> None:
    """Built at load, sharing what is unchanged: an arm that only changes levers uses the
    bundle's scorer; a model override reuses the bundle's ONNX sessions."""
    experiments = only({"id": "levers", "levers": {"upsell": 2.0}})
    experiments[0]["arms"][1] = {"id": "models", "share": 0.0, "models": {"upsell": CHALLENGER}}
    decider = Decider(load_bundle(with_experiments(experiments, challenger_bundle)))
    stages = decider._arms
    assert stages[("web_test", "levers")].scorer is decider.scorer
    assert stages[("web_test", "models")].scorer is not decider.scorer
    sessions = {id(m._session) for m in decider.bundle.models}
    arm_models = stages[("web_test", "models")].scorer._score_many.args[1]
    assert {id(m.model._session) for m in arm_models} <= sessions


def test_outside_the_scope_nothing_changes(
    with_experiments: WithExperiments, decider: Decider
) -> None:
    arm = Decider(load_bundle(with_experiments(only({"id": "control", "policy": "no_offer"}))))
    facts = {"channel": "call_center", "call_reason": "move_house", "stage": "loyal"}
    ours, plain = ask(arm, **facts), ask(decider, **facts)
    assert ours.experiment is ours.arm is None or ours.experiment == plain.experiment
    assert ranked(ours) == ranked(plain)
    assert [c.priority for c in candidates(ours).values()] == [
        c.priority for c in candidates(plain).values()
    ]


def test_thompson_in_an_arm_draws_on_the_arms_levers(with_experiments: WithExperiments) -> None:
    """Thompson ranks by a draw x (weight x value x lever x boost): in an arm that sets
    levers, the arm's levers, not the catalogue's."""
    root = with_experiments(only({"id": "push", "levers": {"upsell": 2.0}}))
    (root / "exploration.yaml").write_text(
        "exploration:\n  - channel: web\n    thompson: {prior_strength: 30}\n"
    )
    seal_bundle(root)
    arm = Decider(load_bundle(root))
    facts = REQUESTS[1]
    request = DecisionRequest(
        customer=Customer(id="C-1", clv=facts["clv"], lifecycle_stage=facts["stage"]),
        context=Context(channel="web", call_reason=facts["call_reason"]),
        limit=3,
    )
    ranking = arm.rank(request)
    plan = arm.explore(ranking)
    assert plan is not None
    index = {o.id: o.index for o in arm.bundle.offers}
    upsell = [o for o in ranking.order if arm.bundle.offers[index[o]].category == "upsell"]
    assert upsell
    for offer_id in ranking.order:
        i = index[offer_id]
        expected = ranking.weight[i] * ranking.value[i] * ranking.lever[i] * ranking.boost[i]
        assert plan.scale[offer_id] == pytest.approx(expected)
    assert all(ranking.lever[index[o]] == 2.0 for o in upsell)


def test_an_arm_with_two_models_scores_the_offers_wanted_as_all_of_them(
    challenger_bundle: Path, with_experiments: WithExperiments
) -> None:
    """Two models over one catalogue (the arm's): a decision scored on some offers (its
    eligible ones) gets the scores it would get with every offer scored, and 0 for the
    others; alone or in one run with others; one that wants none runs no model."""
    moved = {"upsell": CHALLENGER, "gas_supply": CHALLENGER}
    bundle = load_bundle(
        with_experiments(only({"id": "new_model", "models": moved}), challenger_bundle)
    )
    scorer = Decider(bundle)._arms[("web_test", "new_model")].scorer
    reader = RequestReader(bundle)
    facts = [reader.facts(explained(**f)) for f in REQUESTS]
    every = [scorer.score(f) for f in facts]
    challenger = {o.index for o in bundle.offers if o.category == "upsell" or o.id == "gas_supply"}
    count = len(bundle.offers)
    wanted = [
        np.array(sorted(challenger), dtype=np.intp),  # the challenger's offers only
        np.array(sorted(set(range(count)) - challenger), dtype=np.intp),  # the champion's
        np.arange(0, count, 3, dtype=np.intp),  # some of each
    ]
    cases = [(facts[n % len(facts)], w) for n, w in enumerate(wanted * 2)]

    async def together() -> list[npt.NDArray[np.float64]]:
        return list(await asyncio.gather(*(scorer.score_together(f, w) for f, w in cases)))

    runs = scorer.batcher.runs
    batched = asyncio.run(together())
    assert scorer.batcher.runs == runs + 1
    for (f, w), in_batch in zip(cases, batched, strict=True):
        alone = scorer.score(f, w)
        expected = np.zeros(count)
        expected[w] = every[facts.index(f)][w]
        np.testing.assert_allclose(alone, expected, atol=1e-7)
        np.testing.assert_allclose(in_batch, expected, atol=1e-7)
    nothing = np.array([], dtype=np.intp)
    assert asyncio.run(scorer.score_together(facts[0], nothing)) is scorer.unscored
    assert scorer.batcher.runs == runs + 1
