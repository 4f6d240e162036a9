"""The decision pipeline: facts -> eligibility -> scoring -> arbitration -> top N.

Everything that depends only on the bundle (offer columns, rule targets, context-weight
vectors, tie-break order) is laid out once in `Decider.__init__`; a request is a few
plain loops over about twenty offers and one ONNX run per model.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from nextbest.bundle import Bundle, Offer, Rule, offer_facts
from nextbest.decide.facts import Facts, RequestChecker
from nextbest.decide.types import (
    Candidate,
    DecisionRequest,
    DecisionResponse,
    Explanation,
    RankedOffer,
)
from nextbest.rules import Value
from nextbest.scoring import PropensityModel
from nextbest.scoring.batch import ScoringBatcher

__all__ = ["FORMULA", "Decider", "Decision", "Ranking", "StageTimings"]

FORMULA = (
    "priority = propensity x context_weight x value x lever x boost; "
    "value = offer.value + clv_share[category] x customer.clv; "
    "pinned offers rank above all others; ties break by offer id"
)

FloatArray = npt.NDArray[np.float64]
_NO_OFFER: dict[str, Value] = {}


@dataclass(slots=True)
class StageTimings:
    """Nanoseconds spent in each stage of one decision."""

    rules_ns: int = 0
    scoring_ns: int = 0
    arbitration_ns: int = 0
    pressure_ns: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    response: DecisionResponse
    timings: StageTimings = field(default_factory=StageTimings)
    blocked: Mapping[str, str] = field(default_factory=dict)
    """Offers held back after ranking, with the reason (`cap:<policy>`, ...)."""


@dataclass(slots=True)
class Verdict:
    """What the rules said about one offer for one request."""

    dropped_by: str | None = None
    pinned: bool = False
    boost: float = 1.0
    fired: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Ranking:
    """The decision before contact pressure: every offer's scores and verdict, and the
    eligible offers' ids in rank order."""

    request: DecisionRequest
    decision_id: str
    order: tuple[str, ...]
    verdicts: Sequence[Verdict]
    propensity: FloatArray
    weight: FloatArray
    value: FloatArray
    boost: FloatArray
    priority: FloatArray
    timings: StageTimings


def _propensities(
    fixed: FloatArray, models: Sequence[PropensityModel], facts: Sequence[Facts]
) -> list[FloatArray]:
    """Every offer's propensity for each of several requests: one run per model."""
    propensity = np.tile(fixed, (len(facts), 1))
    for model in models:
        propensity[:, model.offer_indices] = model.score_many(facts)
    return list(propensity)


class Decider:
    """Decides for one bundle; safe to share across requests. Nothing of it changes after
    construction but the batcher's queue of decisions waiting to be scored."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._checker = RequestChecker(bundle)
        offers = bundle.offers
        self._offers = offers
        self._offer_facts = [offer_facts(o) for o in offers]
        self._lever = np.array([o.lever for o in offers], dtype=np.float64)
        self._base_value = np.array([o.value for o in offers], dtype=np.float64)
        self._clv_share = np.array([bundle.clv_share[o.category] for o in offers])
        self._fixed_propensity = np.array(
            [o.fixed_propensity if o.fixed_propensity is not None else np.nan for o in offers]
        )
        self._on_channel = {
            channel: tuple(channel in o.channels for o in offers)
            for channel in bundle.vocabulary.channels
        }
        self._rules_for: tuple[tuple[Rule, ...], ...] = tuple(
            tuple(r for r in bundle.rules if o.index in r.offers) for o in offers
        )
        self._request_rules = tuple(r for r in bundle.rules if not r.expression.uses_offer)
        self._weights = {
            f"{'customer' if name == 'lifecycle_stage' else 'context'}.{name}": {
                value: np.array(weights) for value, weights in table.items()
            }
            for name, table in bundle.context_weights.tables.items()
        }
        self._ones = np.ones(len(offers))
        by_id = sorted(offers, key=lambda o: o.id)
        self._tie_break = [by_id.index(o) for o in offers]
        self._index_of = {o.id: o.index for o in offers}
        # no reference back to the decider: a replaced one is freed at once, without
        # waiting for the cycle collector (startup objects are frozen out of it)
        self._score_many = functools.partial(_propensities, self._fixed_propensity, bundle.models)
        self._batcher = ScoringBatcher(self._score_many)

    def rank(self, request: DecisionRequest) -> Ranking:
        """Every stage before contact pressure: facts, rules, scoring, arbitration."""
        started = time.perf_counter_ns()
        facts, verdicts = self._screen(request)
        after_rules = time.perf_counter_ns()
        return self._arbitrate(
            request, facts, verdicts, self._score_many([facts])[0], started, after_rules
        )

    async def rank_together(self, request: DecisionRequest) -> Ranking:
        """As `rank`, with the scoring done in one run together with the other decisions
        that reach it in the same turn of the event loop (see nextbest.scoring.batch)."""
        started = time.perf_counter_ns()
        facts, verdicts = self._screen(request)
        after_rules = time.perf_counter_ns()
        propensity = await self._batcher.score(facts)
        return self._arbitrate(request, facts, verdicts, propensity, started, after_rules)

    def _screen(self, request: DecisionRequest) -> tuple[Facts, list[Verdict]]:
        facts = self._checker.facts(request)
        return facts, self._eligibility(facts, request.context.channel)

    def _arbitrate(
        self,
        request: DecisionRequest,
        facts: Facts,
        verdicts: list[Verdict],
        propensity: FloatArray,
        started: int,
        after_rules: int,
    ) -> Ranking:
        after_scoring = time.perf_counter_ns()
        weight = self._context_weight(facts)
        value = self._value(facts)
        boost = np.array([v.boost for v in verdicts])
        priority = propensity * weight * value * self._lever * boost
        order = self._rank(verdicts, priority)
        timings = StageTimings(
            rules_ns=after_rules - started,
            scoring_ns=after_scoring - after_rules,
            arbitration_ns=time.perf_counter_ns() - after_scoring,
        )
        return Ranking(
            request=request,
            decision_id=uuid.uuid4().hex,
            order=tuple(self._offers[i].id for i in order),
            verdicts=verdicts,
            propensity=propensity,
            weight=weight,
            value=value,
            boost=boost,
            priority=priority,
            timings=timings,
        )

    def decide(self, request: DecisionRequest) -> Decision:
        """A decision with no contact pressure: the top `limit` of the ranking."""
        ranking = self.rank(request)
        return self.finish(ranking, ranking.order[: request.limit])

    def finish(
        self,
        ranking: Ranking,
        selected_ids: Sequence[str],
        blocked: Mapping[str, str] | None = None,
        degraded: Sequence[str] = (),
    ) -> Decision:
        """The response for the offers that passed contact pressure (`selected_ids`, in
        rank order); `blocked` maps the offers it held back to their reason."""
        started = time.perf_counter_ns()
        index_of = self._index_of
        selected = [index_of[o] for o in selected_ids]
        request = ranking.request
        priority, propensity, value = ranking.priority, ranking.propensity, ranking.value
        offers = [
            self._ranked_offer(rank, i, priority, propensity, value)
            for rank, i in enumerate(selected, start=1)
        ]
        explanation = self._explain(ranking, selected, blocked or {}) if request.explain else None
        response = DecisionResponse(
            decision_id=ranking.decision_id,
            bundle_version=self.bundle.version,
            customer_id=request.customer.id,
            channel=request.context.channel,
            offers=offers,
            degraded=list(degraded),
            explanation=explanation,
        )
        ranking.timings.arbitration_ns += time.perf_counter_ns() - started
        return Decision(response, ranking.timings, blocked or {})

    def _eligibility(self, facts: Facts, channel: str) -> list[Verdict]:
        once = {r.id: r.expression.evaluate(facts, _NO_OFFER) for r in self._request_rules}
        on_channel = self._on_channel[channel]
        verdicts = []
        for offer, rules in zip(self._offers, self._rules_for, strict=True):
            verdict = Verdict()
            verdicts.append(verdict)
            if not on_channel[offer.index]:
                verdict.dropped_by = "channel"
                continue
            for rule in rules:
                holds = once.get(rule.id)
                if holds is None:
                    holds = rule.expression.evaluate(facts, self._offer_facts[offer.index])
                if (rule.action == "drop" and holds) or (rule.action == "require" and not holds):
                    verdict.dropped_by = f"rule:{rule.id}"
                    verdict.fired.append(rule.id)
                    break
                if holds and rule.action == "pin":
                    verdict.pinned = True
                    verdict.fired.append(rule.id)
                elif holds and rule.action == "boost":
                    verdict.boost *= rule.factor
                    verdict.fired.append(rule.id)
        return verdicts

    def _context_weight(self, facts: Facts) -> FloatArray:
        weight = self._ones
        for source, table in self._weights.items():
            value = facts.get(source)
            if isinstance(value, str):
                row = table.get(value)
                if row is not None:
                    weight = weight * row
        return weight

    def _value(self, facts: Facts) -> FloatArray:
        clv = facts.get("customer.clv")
        if not isinstance(clv, float | int):
            return self._base_value
        return self._base_value + self._clv_share * float(clv)

    def _rank(self, verdicts: Sequence[Verdict], priority: FloatArray) -> list[int]:
        eligible = [i for i, v in enumerate(verdicts) if v.dropped_by is None]
        score = priority.tolist()
        tie_break = self._tie_break
        return sorted(eligible, key=lambda i: (not verdicts[i].pinned, -score[i], tie_break[i]))

    def _ranked_offer(
        self, rank: int, i: int, priority: FloatArray, propensity: FloatArray, value: FloatArray
    ) -> RankedOffer:
        offer: Offer = self._offers[i]
        return RankedOffer(
            rank=rank,
            offer_id=offer.id,
            name=offer.name,
            category=offer.category,
            priority=round(float(priority[i]), 6),
            propensity=round(float(propensity[i]), 6),
            value=round(float(value[i]), 2),
            treatment=dict(offer.treatment),
        )

    def _explain(
        self, ranking: Ranking, selected: Sequence[int], blocked: Mapping[str, str]
    ) -> Explanation:
        rank_of = {i: rank for rank, i in enumerate(selected, start=1)}
        candidates = []
        for offer, verdict in zip(self._offers, ranking.verdicts, strict=True):
            i = offer.index
            rank = rank_of.get(i)
            if rank is not None:
                reason = None
            elif verdict.dropped_by is not None:
                reason = verdict.dropped_by
            else:
                reason = blocked.get(offer.id, "rank")
            candidates.append(
                Candidate(
                    offer_id=offer.id,
                    category=offer.category,
                    propensity=round(float(ranking.propensity[i]), 6),
                    value=round(float(ranking.value[i]), 2),
                    lever=offer.lever,
                    context_weight=round(float(ranking.weight[i]), 6),
                    boost=float(ranking.boost[i]),
                    pinned=verdict.pinned,
                    priority=round(float(ranking.priority[i]), 6),
                    outcome="selected" if rank is not None else "dropped",
                    reason=reason,
                    rank=rank,
                    rules=list(verdict.fired),
                )
            )
        return Explanation(formula=FORMULA, candidates=candidates)
