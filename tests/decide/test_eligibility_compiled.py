"""Eligibility compiled at load gives every offer the verdict the rules give it read one by
one: each rule that applies to the offer, in the bundle's order, evaluated on the
request's and the offer's facts, until one drops the offer.

The demo bundle is extended with rules of every shape the compiler treats apart: rules
that read only the request, only the offer (folded at load), or both (evaluated once per
group of offers that agree on the fields read, offers sharing a product among them),
with numbers compared field to field, string lists on either side, negated membership
and missing offer values.
"""

from __future__ import annotations

import math
import random
import shutil
from typing import Any

import msgspec
import numpy as np
import pytest
import yaml

from helpers import DEMO_BUNDLE
from nextbest.bundle import Bundle, load_bundle, offer_facts, seal_bundle
from nextbest.decide import Decider, DecisionRequest
from nextbest.decide import eligibility as eligibility_module
from nextbest.decide.arbitration import Arbiter
from nextbest.decide.eligibility import Eligibility
from nextbest.decide.facts import RequestReader
from nextbest.decide.values import NOT_ON_CHANNEL, DropReason, Facts, Verdict

EXTRA_RULES: list[dict[str, Any]] = [
    {
        "id": "big_upsells_are_boosted",
        "when": 'offer.category == "upsell" and offer.value > 80',
        "then": "boost",
        "factor": 1.5,
    },
    {
        "id": "nothing_worth_more_than_the_customer",
        "applies_to": {"categories": ["upsell", "cross_sell"]},
        "when": "offer.value > customer.clv",
        "then": "drop",
    },
    {
        "id": "recovery_pinned_after_a_minute",
        "when": '"service_recovery" in offer.tags and context.wait_time_s > 60',
        "then": "pin",
    },
    {
        "id": "only_products_not_owned",
        "applies_to": {"categories": ["cross_sell"]},
        "when": "offer.product not in customer.attributes.owned_products",
        "then": "require",
    },
    {
        "id": "regional_boost",
        "when": 'offer.product == "gas" or customer.attributes.region == "north"',
        "then": "boost",
        "factor": 1.25,
    },
]


def _reference(bundle: Bundle, facts: Facts, channel: str) -> tuple[Verdict, ...]:
    """The rules read one by one, as eligibility did before it was compiled."""
    verdicts = []
    for offer in bundle.offers:
        if channel not in offer.channels:
            verdicts.append(NOT_ON_CHANNEL)
            continue
        own = offer_facts(offer)
        pinned, boost, fired = False, 1.0, []
        verdict: Verdict | None = None
        for rule in bundle.rules:
            if offer.index not in rule.offers:
                continue
            holds = rule.expression(facts, own)
            if (rule.action == "drop" and holds) or (rule.action == "require" and not holds):
                fired.append(rule.id)
                verdict = Verdict(DropReason("rule", rule.id), pinned, boost, tuple(fired))
                break
            if holds and rule.action == "pin":
                pinned = True
                fired.append(rule.id)
            elif holds and rule.action == "boost":
                boost *= rule.factor
                fired.append(rule.id)
        verdicts.append(verdict or Verdict(None, pinned, boost, tuple(fired)))
    return tuple(verdicts)


def _requests(bundle: Bundle, count: int, seed: int) -> list[DecisionRequest]:
    rng = random.Random(seed)
    vocabulary = bundle.vocabulary
    products = [*sorted({o.product for o in bundle.offers if o.product}), "unknown"]
    made = []
    for _ in range(count):
        attributes: dict[str, Any] = {}
        if rng.random() < 0.8:
            attributes["owned_products"] = rng.sample(products, rng.randrange(0, 5))
        if rng.random() < 0.5:
            attributes["marketing_consent"] = rng.random() < 0.5
        if rng.random() < 0.5:
            attributes["region"] = rng.choice(["north", "south"])
        customer: dict[str, Any] = {"id": "C", "attributes": attributes}
        if rng.random() < 0.8:
            customer["clv"] = rng.choice([0, 50, 85.5, 100, 1600, rng.uniform(0, 3000)])
        if rng.random() < 0.8:
            customer["lifecycle_stage"] = rng.choice(vocabulary.lifecycle_stages)
        context: dict[str, Any] = {"channel": rng.choice(vocabulary.channels)}
        if rng.random() < 0.8:
            context["call_reason"] = rng.choice(vocabulary.call_reasons)
        if rng.random() < 0.8:
            context["wait_time_s"] = rng.choice([0, 60, 61, 300, 301, rng.uniform(0, 600)])
        made.append(msgspec.convert({"customer": customer, "context": context}, DecisionRequest))
    return made


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    target = tmp_path_factory.mktemp("extended") / "bundle"
    shutil.copytree(DEMO_BUNDLE, target)
    offers_file = target / "offers.yaml"
    offers = yaml.safe_load(offers_file.read_text())
    offers["offers"][1]["product"] = offers["offers"][0]["product"]  # two offers, one product
    offers_file.write_text(yaml.safe_dump(offers, sort_keys=False))
    rules_file = target / "rules.yaml"
    rules = yaml.safe_load(rules_file.read_text())
    rules["rules"] = rules["rules"][:3] + EXTRA_RULES + rules["rules"][3:]
    rules_file.write_text(yaml.safe_dump(rules, sort_keys=False))
    seal_bundle(target)
    return load_bundle(target)


def _compare(bundle: Bundle, requests: list[DecisionRequest]) -> set[str]:
    reader, eligibility = RequestReader(bundle), Eligibility(bundle)
    fired: set[str] = set()
    for request in requests:
        facts = reader.facts(request)
        channel = request.context.channel
        expected = _reference(bundle, facts, channel)
        screening = eligibility.screen(facts, channel)
        assert screening.verdicts == expected, request
        assert screening.boost.tolist() == [v.boost for v in expected]
        eligible = sorted(
            (i for i, v in enumerate(expected) if v.dropped_by is None),
            key=lambda i: bundle.offers[i].id,
        )
        assert screening.pinned == tuple(i for i in eligible if expected[i].pinned)
        assert screening.unpinned == tuple(i for i in eligible if not expected[i].pinned)
        fired.update(rule for v in expected for rule in v.fired)
    return fired


def test_the_demo_rules_give_the_verdicts_of_the_rules_read_one_by_one(
    demo_bundle: Bundle,
) -> None:
    fired = _compare(demo_bundle, _requests(demo_bundle, 1500, seed=1))
    assert fired == {r.id for r in demo_bundle.rules}


def test_rules_reading_the_offer_give_the_verdicts_of_the_rules_read_one_by_one(
    extended: Bundle,
) -> None:
    fired = _compare(extended, _requests(extended, 1500, seed=2))
    assert {r["id"] for r in EXTRA_RULES} <= fired


def test_verdicts_stay_right_when_what_is_remembered_is_forgotten(
    extended: Bundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(eligibility_module, "_REMEMBERED", 3)
    _compare(extended, _requests(extended, 300, seed=3))


@pytest.mark.parametrize(
    "propensity",
    [
        [0.5] * 20,
        [math.nan if i % 3 == 0 else 0.25 for i in range(20)],
        [math.inf if i % 2 else -math.inf for i in range(20)],
        [-0.0 if i % 2 else 0.0 for i in range(20)],
        [random.Random(i).random() for i in range(20)],
    ],
    ids=["ties", "nan", "infinities", "signed-zeros", "random"],
)
def test_the_ranking_is_the_formulas_sort_whatever_the_propensities(
    decider: Decider, propensity: list[float]
) -> None:
    """Pinned first, then priority highest first, ties by offer id: as sorting by the key
    (not pinned, -priority, offer id), NaN and infinities included."""
    bundle = decider.bundle
    reader, eligibility, arbiter = RequestReader(bundle), Eligibility(bundle), Arbiter(bundle)
    for request in _requests(bundle, 200, seed=4):
        facts = reader.facts(request)
        screening = eligibility.screen(facts, request.context.channel)
        arbitration = arbiter.arbitrate(facts, screening, np.array(propensity))
        score = arbitration.priority.tolist()
        verdicts = screening.verdicts
        expected = sorted(
            (i for i, v in enumerate(verdicts) if v.dropped_by is None),
            key=lambda i: (not verdicts[i].pinned, -score[i], bundle.offers[i].id),
        )
        assert arbitration.order == tuple(bundle.offers[i].id for i in expected)


def test_a_long_list_in_a_request_is_judged_but_not_kept(extended: Bundle) -> None:
    long_list = [f"product-{n}" for n in range(1000)] + ["gas"]
    requests = [
        msgspec.convert(
            {
                "customer": {"id": "C", "clv": 10, "attributes": {"owned_products": owned}},
                "context": {"channel": "call_center"},
            },
            DecisionRequest,
        )
        for owned in (long_list, ["gas"])
    ]
    reader, eligibility = RequestReader(extended), Eligibility(extended)
    for request in requests:
        facts = reader.facts(request)
        assert eligibility.screen(facts, "call_center").verdicts == _reference(
            extended, facts, "call_center"
        )
    kept = [key for groups, _ in eligibility._probes.groups for key in groups._outcomes]
    assert kept
    assert all(len(str(key)) < 1000 for key in kept)
