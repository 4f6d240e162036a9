"""The answer: the selected offers as the client sees them, and on request the
explanation of every offer's fate. Drop reasons become wire strings only here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from nextbest.bundle import Bundle, Offer
from nextbest.decide.arbitration import formula
from nextbest.decide.types import (
    Candidate,
    DecisionResponse,
    Explanation,
    ExplorationNote,
    RankedOffer,
)
from nextbest.decide.values import (
    BELOW_LIMIT,
    DEGRADED_CONTACT_PRESSURE,
    DropReason,
    Explored,
    Ranking,
    Selection,
)

__all__ = ["ResponseBuilder"]


class ResponseBuilder:
    """What each answer repeats of an offer is read once, here; a decision's numbers are
    read from the ranking's arrays as Python floats (`item`, or `tolist` for the whole
    catalogue), rounded as the wire says."""

    def __init__(self, bundle: Bundle) -> None:
        self._offers = bundle.offers
        self._index_of = {o.id: o.index for o in bundle.offers}
        self._version = bundle.version

    def response(self, ranking: Ranking, selection: Selection) -> DecisionResponse:
        request = ranking.request
        index_of = self._index_of
        selected = [index_of[o] for o in selection.selected]
        offers = self._ranked_offers(selected, ranking)
        explanation = (
            self._explain(ranking, selected, selection.blocked, selection.exploration)
            if request.explain
            else None
        )
        assignment = ranking.assignment
        return DecisionResponse(
            decision_id=ranking.decision_id,
            bundle_version=self._version,
            customer_id=request.customer.id,
            channel=request.context.channel,
            offers=offers,
            degraded=[DEGRADED_CONTACT_PRESSURE] if selection.degraded_mode else [],
            explanation=explanation,
            experiment=msgspec.UNSET if assignment is None else assignment.experiment,
            arm=msgspec.UNSET if assignment is None else assignment.arm.id,
        )

    def _ranked_offers(self, selected: Sequence[int], ranking: Ranking) -> list[RankedOffer]:
        priority, propensity, value = ranking.priority, ranking.propensity, ranking.value
        numbers: list[float] = []
        for i in selected:
            numbers += (priority.item(i), propensity.item(i), value.item(i))
        rounded = _rounded(numbers, "%.6f %.6f %.2f " * len(selected))
        offers = self._offers
        ranked = []
        for rank, i in enumerate(selected, start=1):
            offer: Offer = offers[i]
            at = 3 * rank - 3
            ranked.append(
                RankedOffer(
                    rank=rank,
                    offer_id=offer.id,
                    name=offer.name,
                    category=offer.category,
                    priority=rounded[at],
                    propensity=rounded[at + 1],
                    value=rounded[at + 2],
                    treatment=dict(offer.treatment),
                )
            )
        return ranked

    def _explain(
        self,
        ranking: Ranking,
        selected: Sequence[int],
        blocked: Mapping[str, DropReason],
        explored: Explored | None,
    ) -> Explanation:
        rank_of = {i: rank for rank, i in enumerate(selected, start=1)}
        count = len(self._offers)
        six_places = _rounded(
            [*ranking.propensity.tolist(), *ranking.weight.tolist(), *ranking.priority.tolist()],
            "%.6f " * (3 * count),
        )
        propensity, weight, priority = (
            six_places[:count],
            six_places[count : 2 * count],
            six_places[2 * count :],
        )
        value = _rounded(ranking.value.tolist(), "%.2f " * count)
        lever = ranking.lever.tolist()
        boost = ranking.boost.tolist()
        candidates = []
        for offer, verdict in zip(self._offers, ranking.verdicts, strict=True):
            i = offer.index
            rank = rank_of.get(i)
            reason: DropReason | None = None
            if rank is None:
                reason = verdict.dropped_by or blocked.get(offer.id, BELOW_LIMIT)
            candidates.append(
                Candidate(
                    offer_id=offer.id,
                    category=offer.category,
                    propensity=propensity[i],
                    value=value[i],
                    lever=lever[i],
                    context_weight=weight[i],
                    boost=boost[i],
                    pinned=verdict.pinned,
                    priority=priority[i],
                    outcome="selected" if rank is not None else "dropped",
                    reason=reason.wire if reason is not None else None,
                    rank=rank,
                    rules=list(verdict.fired),
                )
            )
        assignment = ranking.assignment
        policy = None if assignment is None else assignment.arm.policy
        return Explanation(
            formula=formula(policy), candidates=candidates, exploration=_note(explored)
        )


def _rounded(numbers: Sequence[float], places: str) -> list[float]:
    """`round(x, n)` of each number, `places` giving n for each (`"%.6f %.2f "`), in one
    formatting call for them all. The same floats: `%.nf` rounds a float's exact value to
    n places, half to even, as `round` does (CPython converts both with the same correctly
    rounded dtoa, mode 3), and reading the text back gives the float `round` returns;
    NaN, infinities and the sign of zero come back as they were."""
    return list(map(float, (places % tuple(numbers)).split()))


def _note(explored: Explored | None) -> ExplorationNote | None:
    if explored is None:
        return None
    return ExplorationNote(
        policy=explored.policy,
        parameter=explored.parameter,
        explored_ranks=list(explored.explored_ranks),
        logged_propensities=[round(p, 9) for p in explored.logged_propensities],
    )
