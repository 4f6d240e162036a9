"""Arbitration: priority = propensity x context weight x value x lever x boost, then rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nextbest.bundle import Bundle
from nextbest.decide.values import Facts, FloatArray, Verdict
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


@dataclass(frozen=True, slots=True)
class Arbitration:
    weight: FloatArray
    value: FloatArray
    lever: FloatArray
    boost: FloatArray
    priority: FloatArray
    order: tuple[str, ...]
    """Eligible offer ids, best first."""


class Arbiter:
    """Everything that depends only on the bundle (and the experiment arm, whose levers,
    context weights and policy replace the bundle's) is laid out once here."""

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
        self._lever = np.array([levers[o.index] for o in offers], dtype=np.float64)
        self._base_value = np.array([o.value for o in offers], dtype=np.float64)
        self._clv_share = np.array([bundle.clv_share[o.category] for o in offers])
        self._weights = {
            path: {value: np.array(weights) for value, weights in table.items()}
            for path, table in tables.items()
        }
        self._ones = np.ones(len(offers))
        by_id = sorted(offers, key=lambda o: o.id)
        self._tie_break = [by_id.index(o) for o in offers]

    def arbitrate(
        self, facts: Facts, verdicts: Sequence[Verdict], propensity: FloatArray
    ) -> Arbitration:
        weight = self._context_weight(facts)
        value = self._value(facts)
        boost = np.array([v.boost for v in verdicts])
        if self._by_propensity:
            priority = propensity * weight * value * self._lever * boost
        else:
            priority = weight * value * self._lever * boost
        ids = self._ids
        order = tuple(ids[i] for i in self._rank(verdicts, priority))
        return Arbitration(weight, value, self._lever, boost, priority, order)

    def _context_weight(self, facts: Facts) -> FloatArray:
        weight = self._ones
        for path, table in self._weights.items():
            value = facts.get(path)
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
