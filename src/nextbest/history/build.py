"""The records a finished decision and an accepted feedback leave in the history."""

from __future__ import annotations

from collections.abc import Set
from datetime import UTC, datetime

from nextbest.decide.values import Decision
from nextbest.fields import Value
from nextbest.history.records import DecisionRecord, OfferShown, Outcome, ResponseRecord

__all__ = ["FieldFilter", "decision_record", "response_record"]


class FieldFilter:
    """Which field paths a decision record keeps: the allow list (empty: all) less the
    deny list. `customer.id` is the record's own `customer_id`, never a field."""

    def __init__(self, allow: Set[str], deny: Set[str]) -> None:
        self._allow = frozenset(allow)
        self._deny = frozenset(deny) | {"customer.id"}
        self._keeps: dict[str, bool] = {}

    def keeps(self, path: str) -> bool:
        kept = self._keeps.get(path)
        if kept is None:
            kept = (not self._allow or path in self._allow) and path not in self._deny
            if len(self._keeps) < 4096:
                self._keeps[path] = kept
        return kept

    def apply(self, facts: dict[str, Value]) -> dict[str, Value]:
        return {p: v for p, v in facts.items() if v is not None and self.keeps(p)}


def decision_record(decision: Decision, bundle_name: str, keep: FieldFilter) -> DecisionRecord:
    ranking, response = decision.ranking, decision.response
    request, assignment = ranking.request, ranking.assignment
    explored = decision.selection.exploration
    logged = explored.logged_propensities if explored is not None else ()
    return DecisionRecord(
        decision_id=response.decision_id,
        at=datetime.now(UTC),
        bundle_name=bundle_name,
        bundle_version=response.bundle_version,
        customer_id=response.customer_id,
        channel=response.channel,
        placement=request.context.placement,
        experiment=None if assignment is None else assignment.experiment,
        arm=None if assignment is None else assignment.arm.id,
        fields=keep.apply(ranking.facts),
        offers=[
            OfferShown(
                offer_id=o.offer_id,
                rank=o.rank,
                category=o.category,
                propensity=o.propensity,
                priority=o.priority,
                value=o.value,
                logged_propensity=logged[o.rank - 1] if logged else 1.0,
            )
            for o in response.offers
        ],
        degraded=bool(response.degraded),
    )


def response_record(
    *,
    decision_id: str,
    offer_id: str,
    customer_id: str,
    channel: str,
    outcome: Outcome,
    occurred_ms: int,
    received_ms: int,
    key: str,
) -> ResponseRecord:
    return ResponseRecord(
        decision_id=decision_id,
        offer_id=offer_id,
        customer_id=customer_id,
        channel=channel,
        outcome=outcome,
        occurred_at=datetime.fromtimestamp(occurred_ms / 1000, UTC),
        received_at=datetime.fromtimestamp(received_ms / 1000, UTC),
        key=key,
    )
