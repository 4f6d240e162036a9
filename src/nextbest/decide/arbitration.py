"""Arbitration: priority = propensity x context weight x value x lever x boost, then rank."""

from __future__ import annotations

import math

import msgspec
import numpy as np

from nextbest.bundle import Bundle
from nextbest.decide.eligibility import Screening
from nextbest.decide.values import Facts, FloatArray
from nextbest.experiments import Arm, ArmPolicy

__all__ = ["FORMULA", "RULES_ONLY_FORMULA", "Arbiter", "Arbitration", "formula"]

_RANKING = (
    "value = offer.value + clv_share[category] x customer.clv; "
    "pinned offers rank above all others; ties break by offer id"
)
FORMULA = f"priority = propensity x context_weight x value x lever x boost; {_RANKING}"
RULES_ONLY_FORMULA = (
    "priority = context_weight x value x lever x boost (experiment arm `rules_only`: the "
    f"propensity is not used); {_RANKING}"
)


def formula(policy: ArmPolicy | None) -> str:
    """The formula the ranking of a decision in an arm of `policy` (None: no arm) used."""
    return RULES_ONLY_FORMULA if policy == "rules_only" else FORMULA


class Arbitration(msgspec.Struct, frozen=True):
    weight: FloatArray
    value: FloatArray
    lever: FloatArray
    boost: FloatArray
    priority: FloatArray
    order: tuple[str, ...]
    """Eligible offer ids, best first."""


class Arbiter:
    """Everything that depends only on the bundle (and the experiment arm, whose levers,
    context weights and policy replace the bundle's) is laid out once here.

    The arithmetic is the formula's, factor by factor in its order (the same floats to
    the last bit); a factor that is 1 for every offer is skipped, as x * 1 is x."""

    def __init__(self, bundle: Bundle, arm: Arm | None = None) -> None:
        offers = bundle.offers
        self._ids = tuple(o.id for o in offers)
        levers = {o.index: o.lever for o in offers}
        tables = bundle.context_weights.tables
        self._by_propensity = True
        if arm is not None:
            levers.update(arm.levers)
            if arm.context_weights is not None:
                tables = arm.context_weights
            self._by_propensity = arm.policy != "rules_only"
        self._lever = _read_only(np.array([levers[o.index] for o in offers], dtype=np.float64))
        self._levered = bool((self._lever != 1.0).any())
        self._base_value = _read_only(np.array([o.value for o in offers], dtype=np.float64))
        self._clv_share = np.array([bundle.clv_share[o.category] for o in offers])
        self._ones = _read_only(np.ones(len(offers)))
        self._weighted = tuple(tables)
        self._levels = tuple(
            {value: code for code, value in enumerate(table)} for table in tables.values()
        )
        self._rows = tuple(
            tuple(np.array(weights) for weights in table.values()) for table in tables.values()
        )
        self._weights: dict[tuple[int, ...], FloatArray] = {}
        by_id = sorted(offers, key=lambda o: o.id)
        self._tie_break = [by_id.index(o) for o in offers]

    def arbitrate(self, facts: Facts, screening: Screening, propensity: FloatArray) -> Arbitration:
        weight = self._context_weight(facts)
        value = self._value(facts)
        boost = screening.boost
        if not self._by_propensity:
            priority = weight * value
        elif weight is self._ones:
            priority = propensity * value
        else:
            priority = propensity * weight
            priority *= value
        if self._levered:
            priority *= self._lever
        if screening.boosted:
            priority *= boost
        ids = self._ids
        order = tuple(map(ids.__getitem__, self._rank(screening, priority)))
        return Arbitration(weight, value, self._lever, boost, priority, order)

    def _context_weight(self, facts: Facts) -> FloatArray:
        """The product of the rows the request's values select, made once per combination
        (the tables bound the combinations)."""
        levels = []
        for path, codes in zip(self._weighted, self._levels, strict=True):
            value = facts.get(path)
            levels.append(codes.get(value, -1) if isinstance(value, str) else -1)
        key = tuple(levels)
        weight = self._weights.get(key)
        if weight is None:
            weight = self._ones
            for code, rows in zip(key, self._rows, strict=True):
                if code >= 0:
                    weight = weight * rows[code]
            if weight is not self._ones:
                weight.flags.writeable = False
            self._weights[key] = weight
        return weight

    def _value(self, facts: Facts) -> FloatArray:
        clv = facts.get("customer.clv")
        if not isinstance(clv, float | int):
            return self._base_value
        value = self._clv_share * float(clv)
        value += self._base_value
        return value

    def _rank(self, screening: Screening, priority: FloatArray) -> list[int]:
        """Pinned first, then by priority, highest first; ties in tie-break order, as the
        screening lists the offers and the sort is stable."""
        score = priority.tolist()
        if math.isnan(sum(score)):  # NaN compares with nothing: rank as the formula says
            return self._rank_exactly(screening, score)
        by_score = score.__getitem__
        ranked = sorted(screening.unpinned, key=by_score, reverse=True)
        if screening.pinned:
            ranked[:0] = sorted(screening.pinned, key=by_score, reverse=True)
        return ranked

    def _rank_exactly(self, screening: Screening, score: list[float]) -> list[int]:
        verdicts = screening.verdicts
        eligible = [i for i, v in enumerate(verdicts) if v.dropped_by is None]
        tie_break = self._tie_break
        return sorted(eligible, key=lambda i: (not verdicts[i].pinned, -score[i], tie_break[i]))


def _read_only(array: FloatArray) -> FloatArray:
    """An array every decision shares."""
    array.flags.writeable = False
    return array
