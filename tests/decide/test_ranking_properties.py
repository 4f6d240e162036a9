"""Ranking invariants on generated bundles (Hypothesis): offers with fixed propensities,
rules that drop, require, pin and boost, context weights and value shares, sealed and
loaded like any bundle; each decision is checked against the documented arbitration.

Every number is a small power of two (or a small integer), so that the products are exact
in floating point: ties are real ties, and the reference ranking below needs no tolerance.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nextbest.bundle import load_bundle, seal_bundle
from nextbest.decide import Decider, DecisionRequest, DecisionResponse

CHANNELS = ("web", "phone")
REASONS = ("billing", "moving", "complaint")
STAGES = ("new", "loyal")
CATEGORIES = ("upsell", "cross_sell", "retention", "service")
OFFER_IDS = ("mango", "apple", "kiwi", "banana", "cherry", "date", "fig", "lime")
POWERS = (0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class OfferDraft:
    id: str
    category: str
    channels: tuple[str, ...]
    propensity: float
    value: int
    lever: float


@dataclass(frozen=True)
class Condition:
    """`<field> == "<value>"` on a request field the bundle's vocabulary names."""

    field: str
    value: str

    @property
    def text(self) -> str:
        return f'{self.field} == "{self.value}"'

    def holds(self, request: dict[str, Any]) -> bool:
        section, name = self.field.split(".")
        return request[section].get(name) == self.value


@dataclass(frozen=True)
class RuleDraft:
    id: str
    then: str
    when: Condition
    offers: tuple[str, ...]
    factor: float | None = None


@dataclass(frozen=True)
class BundleDraft:
    offers: tuple[OfferDraft, ...]
    rules: tuple[RuleDraft, ...]
    weights: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    clv_share: dict[str, float] = field(default_factory=dict)

    def write(self, root: Path) -> None:
        files: dict[str, Any] = {
            "bundle.yaml": {
                "name": "generated",
                "version": "0.0.1",
                "vocabulary": {
                    "channels": list(CHANNELS),
                    "call_reasons": list(REASONS),
                    "lifecycle_stages": list(STAGES),
                },
                "value": {"clv_share": self.clv_share},
            },
            "offers.yaml": {
                "offers": [
                    {
                        "id": o.id,
                        "name": o.id.title(),
                        "category": o.category,
                        "channels": list(o.channels),
                        "value": o.value,
                        "lever": o.lever,
                        "propensity": o.propensity,
                    }
                    for o in self.offers
                ]
            },
            "rules.yaml": {
                "rules": [
                    {
                        "id": r.id,
                        "applies_to": {"offers": list(r.offers)},
                        "when": r.when.text,
                        "then": r.then,
                        **({"factor": r.factor} if r.factor is not None else {}),
                    }
                    for r in self.rules
                ]
            },
            "context_weights.yaml": self.weights,
        }
        for name, content in files.items():
            (root / name).write_text(yaml.safe_dump(content, sort_keys=False))
        seal_bundle(root)


CONDITIONS = st.one_of(
    st.builds(Condition, st.just("context.call_reason"), st.sampled_from(REASONS)),
    st.builds(Condition, st.just("customer.lifecycle_stage"), st.sampled_from(STAGES)),
    st.builds(Condition, st.just("context.channel"), st.sampled_from(CHANNELS)),
)


@st.composite
def bundles(draw: st.DrawFn) -> BundleDraft:
    ids = draw(st.lists(st.sampled_from(OFFER_IDS), min_size=1, max_size=8, unique=True))
    offers = tuple(
        OfferDraft(
            id=offer_id,
            category=draw(st.sampled_from(CATEGORIES)),
            channels=tuple(
                draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=2, unique=True))
            ),
            propensity=draw(st.sampled_from((0.125, 0.25, 0.5))),
            value=draw(st.sampled_from((8, 16, 32))),
            lever=draw(st.sampled_from((0.5, 1.0, 1.0, 2.0))),
        )
        for offer_id in ids
    )
    rules = []
    for n in range(draw(st.integers(0, 5))):
        then = draw(st.sampled_from(("drop", "require", "pin", "boost", "boost")))
        rules.append(
            RuleDraft(
                id=f"rule_{n}",
                then=then,
                when=draw(CONDITIONS),
                offers=tuple(draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))),
                factor=draw(st.sampled_from(POWERS)) if then == "boost" else None,
            )
        )
    targets = st.sampled_from(ids + list(CATEGORIES))
    weights: dict[str, dict[str, dict[str, float]]] = {}
    for name, values in (("call_reason", REASONS), ("lifecycle_stage", STAGES)):
        table = draw(
            st.dictionaries(
                st.sampled_from(values),
                st.dictionaries(targets, st.sampled_from(POWERS), min_size=1, max_size=3),
                max_size=2,
            )
        )
        if table:
            weights[name] = table
    clv_share = draw(st.dictionaries(st.sampled_from(CATEGORIES), st.sampled_from((0.0, 0.5))))
    return BundleDraft(tuple(offers), tuple(rules), weights, clv_share)


REQUESTS = st.fixed_dictionaries(
    {
        "customer": st.fixed_dictionaries(
            {"id": st.just("C-prop")},
            optional={
                "lifecycle_stage": st.sampled_from(STAGES),
                "clv": st.sampled_from((0, 64, 128)),
            },
        ),
        "context": st.fixed_dictionaries(
            {"channel": st.sampled_from(CHANNELS)},
            optional={"call_reason": st.sampled_from(REASONS)},
        ),
        "limit": st.integers(1, 10),
        "explain": st.just(True),
    }
)


@dataclass
class Expected:
    """What the documented arbitration says about one offer."""

    offer: OfferDraft
    dropped: str | None = None
    pinned: bool = False
    boost: float = 1.0
    fired: list[str] = field(default_factory=list)
    weight: float = 1.0
    value: float = 0.0

    @property
    def priority(self) -> float:
        o = self.offer
        return o.propensity * self.weight * self.value * o.lever * self.boost


def _reference(draft: BundleDraft, request: dict[str, Any]) -> list[Expected]:
    channel = request["context"]["channel"]
    clv = request["customer"].get("clv")
    facts = {
        "call_reason": request["context"].get("call_reason"),
        "lifecycle_stage": request["customer"].get("lifecycle_stage"),
    }
    expected = []
    for offer in draft.offers:
        e = Expected(offer)
        expected.append(e)
        for name, table in draft.weights.items():
            row = table.get(facts[name] or "", {})
            e.weight *= row.get(offer.category, 1.0) * row.get(offer.id, 1.0)
        e.value = offer.value + (draft.clv_share.get(offer.category, 0.0) * clv if clv else 0)
        if channel not in offer.channels:
            e.dropped = "channel"
            continue
        for rule in (r for r in draft.rules if offer.id in r.offers):
            holds = rule.when.holds(request)
            if (rule.then == "drop" and holds) or (rule.then == "require" and not holds):
                e.dropped = f"rule:{rule.id}"
                e.fired.append(rule.id)
                break
            if holds and rule.then in ("pin", "boost"):
                e.pinned = e.pinned or rule.then == "pin"
                e.boost *= rule.factor or 1.0
                e.fired.append(rule.id)
    return expected


def _decide(draft: BundleDraft, request: dict[str, Any]) -> DecisionResponse:
    with tempfile.TemporaryDirectory(prefix="nextbest-generated-") as root:
        draft.write(Path(root))
        decider = Decider(load_bundle(Path(root)))
    return decider.decide(msgspec.convert(request, DecisionRequest)).response


@settings(max_examples=50, deadline=None)
@given(draft=bundles(), request=REQUESTS)
def test_a_decision_ranks_as_the_formula_says(draft: BundleDraft, request: dict[str, Any]) -> None:
    response = _decide(draft, request)
    expected = {e.offer.id: e for e in _reference(draft, request)}
    eligible = [e for e in expected.values() if e.dropped is None]
    order = sorted(eligible, key=lambda e: (not e.pinned, -e.priority, e.offer.id))
    limit = request["limit"]

    offers = [o.offer_id for o in response.offers]
    assert offers == [e.offer.id for e in order[:limit]]
    assert len(offers) == min(limit, len(eligible))
    assert [o.rank for o in response.offers] == list(range(1, len(offers) + 1))
    for offer in response.offers:
        assert request["context"]["channel"] in expected[offer.offer_id].offer.channels
        assert offer.priority == round(expected[offer.offer_id].priority, 6)


@settings(max_examples=50, deadline=None)
@given(draft=bundles(), request=REQUESTS)
def test_pinned_offers_come_first_and_ties_break_by_offer_id(
    draft: BundleDraft, request: dict[str, Any]
) -> None:
    response = _decide(draft, request)
    assert response.explanation is not None
    eligible = [c for c in response.explanation.candidates if c.reason in (None, "rank")]
    pinned = {c.offer_id for c in eligible if c.pinned}
    exact = {e.offer.id: e.priority for e in _reference(draft, request)}
    keys = [(o.offer_id not in pinned, -exact[o.offer_id], o.offer_id) for o in response.offers]
    assert keys == sorted(keys)
    selected = {o.offer_id for o in response.offers}
    if pinned - selected:  # an eligible pinned offer left out: the answer is all pinned
        assert selected <= pinned


@settings(max_examples=50, deadline=None)
@given(draft=bundles(), request=REQUESTS)
def test_the_explanation_gives_each_offer_its_reasons(
    draft: BundleDraft, request: dict[str, Any]
) -> None:
    response = _decide(draft, request)
    assert response.explanation is not None
    candidates = {c.offer_id: c for c in response.explanation.candidates}
    assert set(candidates) == {o.id for o in draft.offers}
    rank_of = {o.offer_id: o.rank for o in response.offers}
    factors = {r.id: r.factor for r in draft.rules if r.then == "boost"}
    for e in _reference(draft, request):
        c = candidates[e.offer.id]
        assert c.rules == e.fired
        assert c.pinned == e.pinned
        # a boost multiplies the priority by its factor, each boost that fired once
        assert c.boost == math.prod(factors[r] for r in c.rules if r in factors)
        assert c.boost == e.boost
        assert c.priority == round(e.priority, 6)
        assert (c.context_weight, c.value) == (round(e.weight, 6), e.value)
        if e.offer.id in rank_of:
            assert (c.outcome, c.reason, c.rank) == ("selected", None, rank_of[e.offer.id])
        else:
            assert (c.outcome, c.rank) == ("dropped", None)
            assert c.reason == (e.dropped or "rank")


@settings(max_examples=25, deadline=None)
@given(draft=bundles(), request=REQUESTS, factor=st.sampled_from(POWERS))
def test_a_boost_multiplies_the_priority_by_its_factor(
    draft: BundleDraft, request: dict[str, Any], factor: float
) -> None:
    """The same bundle plus one boost that always holds for one offer: that offer's
    priority, and no other, is multiplied by the factor."""
    channel = request["context"]["channel"]
    target = draft.offers[0]
    always = Condition("context.channel", channel)
    boosted = BundleDraft(
        draft.offers,
        (*draft.rules, RuleDraft("extra_boost", "boost", always, (target.id,), factor)),
        draft.weights,
        draft.clv_share,
    )
    wide = {**request, "limit": 25}
    before, after = _decide(draft, wide), _decide(boosted, wide)
    assert before.explanation is not None
    assert after.explanation is not None
    for old, new in zip(before.explanation.candidates, after.explanation.candidates, strict=True):
        # the boost fires unless the offer was dropped (channel, or an earlier rule)
        fires = old.offer_id == target.id and old.reason is None
        assert new.boost == old.boost * (factor if fires else 1.0)
        assert new.priority == pytest.approx(old.priority * new.boost / old.boost, abs=5e-6)
        assert new.rules == old.rules + (["extra_boost"] if fires else [])
