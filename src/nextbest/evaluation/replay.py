"""The candidate bundle replayed on logged decisions.

Each logged decision's request is rebuilt from its record (customer id, channel,
placement and the logged `fields`) and ranked by the candidate's Decider: eligibility
rules, its models, context weights, values, levers. Contact pressure is not replayed: the
contact history at the time is not logged, so the candidate ranks as if no cap applied.

The candidate's action in slot k is what its policy puts at rank k, for the slots the
logged decision filled (k <= the number of offers it showed): the candidate is judged on
the same room the logger had. Greedy, that is the k-th offer of its ranking; exploring,
every eligible offer with its exact probability of being at rank k
(`nextbest.exploration.propensity`, the function the service's logged propensities come
from), as the candidate's `exploration.yaml` sets it per channel and placement (without
caps, as everything here). Where its ranking is shorter, the slot stays empty and earns 0.

A candidate with experiments is replayed as it would serve: each customer in the arm its
assignment gives (an arm of policy `random` explores uniformly), or, with `arm`, every
decision in that one arm (`nextbest evaluate --arm`).

Rewards: acceptance is 1 for an accepted offer, else 0 (declined, ignored, discarded,
or no response within the window); value is acceptance x the candidate's value of the
offer for that customer (`offer.value + clv_share x customer.clv`), one definition for
the logged offers and the candidate's alike. The reward model of DR is the candidate's
propensity (acceptance) and propensity x value (value).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from nextbest.bundle import Bundle
from nextbest.decide import Context, Customer, Decider, DecisionRequest, InvalidRequestError
from nextbest.decide.decider import UNIFORM
from nextbest.decide.values import Ranking
from nextbest.evaluation.estimators import FloatArray, LoggedSlots, SlotRewards
from nextbest.experiments import Assignment
from nextbest.exploration.propensity import Greedy, Policy, rank_probabilities
from nextbest.fields import Value
from nextbest.history.export import JoinedDecision
from nextbest.history.records import DecisionRecord

__all__ = [
    "PolicyFor",
    "Replay",
    "ReplayCounts",
    "bundle_policy",
    "greedy",
    "replay",
    "request_of",
]

PolicyFor = Callable[[DecisionRecord], Policy]
"""The candidate's policy for a logged decision (greedy, or how its bundle explores)."""

MAX_SLOTS = 25
_CUSTOMER = ("clv", "lifecycle_stage")
_CONTEXT = ("call_reason", "wait_time_s")


@dataclass
class ReplayCounts:
    decisions: int = 0
    evaluated: int = 0
    refused_propensity: int = 0
    """Decisions with a shown offer whose logged propensity is not in (0, 1]."""
    refused_request: int = 0
    """Decisions whose logged fields the candidate bundle refuses (say, a channel or a
    call reason its vocabulary does not know)."""
    slots: int = 0
    deterministic_slots: int = 0
    """Filled slots whose logged propensity is 1: the logger could not have chosen
    anything else there."""
    agreeing_slots: int = 0
    no_overlap_slots: int = 0
    """Slots where the candidate chooses an offer the logger could not have put there
    (the logged offer had propensity 1, and it is another)."""
    unexplored: set[tuple[int, str]] = field(default_factory=set)
    """(rank, offer id) the candidate chooses that no logged decision ever showed."""
    problems: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Replay:
    slots: LoggedSlots
    acceptance: SlotRewards
    value: SlotRewards
    counts: ReplayCounts


def _attributes(fields: dict[str, Value], prefix: str) -> dict[str, Value]:
    return {
        path.removeprefix(prefix): value
        for path, value in fields.items()
        if path.startswith(prefix) and value is not None
    }


def request_of(record: DecisionRecord, limit: int) -> DecisionRequest:
    """The request a logged decision answered, as far as its record kept the fields."""
    fields = record.fields
    customer = {name: fields.get(f"customer.{name}") for name in _CUSTOMER}
    context = {name: fields.get(f"context.{name}") for name in _CONTEXT}
    return DecisionRequest(
        customer=Customer(
            id=record.customer_id,
            attributes=_attributes(fields, "customer.attributes."),
            **customer,  # type: ignore[arg-type]
        ),
        context=Context(
            channel=record.channel,
            placement=record.placement,
            attributes=_attributes(fields, "context.attributes."),
            **context,  # type: ignore[arg-type]
        ),
        limit=max(1, min(limit, MAX_SLOTS)),
    )


def _usable(propensity: float) -> bool:
    return math.isfinite(propensity) and 0.0 < propensity <= 1.0


_COLUMNS = (
    "present",
    "logged",
    "target",
    "accepted",
    "p_logged",
    "p_choice",
    "value",
    "pv_logged",
    "pv_choice",
)


def _laid_out(rows: list[list[float]], width: int) -> FloatArray:
    """Rows of per-slot values, padded with 0 to `width` slots: shape (len(rows), width)."""
    array = np.zeros((len(rows), width))
    for i, row in enumerate(rows):
        array[i, : len(row)] = row
    return array


class _Candidate:
    """The candidate's ranking of one logged request and its probability of putting each
    eligible offer at each rank (`nextbest.exploration.propensity`)."""

    def __init__(
        self,
        ranking: Ranking,
        slots: int,
        policy: Policy,
        catalogue: Mapping[str, int],
    ) -> None:
        at = np.array([catalogue[o] for o in ranking.order], dtype=np.intp)
        self.order = ranking.order
        self.position = {offer: i for i, offer in enumerate(ranking.order)}
        propensity = ranking.propensity[at]
        value = ranking.value[at]
        self.expected_acceptance = propensity
        self.expected_value = propensity * value
        scale = ranking.weight[at] * value * ranking.lever[at] * ranking.boost[at]
        pinned = sum(ranking.verdicts[i].pinned for i in at)
        self.matrix = rank_probabilities(
            ranking.order,
            slots,
            policy,
            pinned=pinned,
            propensity=propensity.tolist(),
            scale=scale.tolist(),
        ).matrix

    def column(self, slot: int) -> FloatArray:
        """Each eligible offer's probability of being at rank slot + 1."""
        if slot < self.matrix.shape[1]:
            column: FloatArray = self.matrix[:, slot]
            return column
        return np.zeros(len(self.order))


def greedy(_record: DecisionRecord) -> Policy:
    return Greedy()


def bundle_policy(bundle: Bundle) -> PolicyFor:
    """The candidate's policy as its `exploration.yaml` sets it for the record's channel
    and placement; greedy where it does not explore."""
    settings = bundle.exploration

    def policy_for(record: DecisionRecord) -> Policy:
        return settings.policy_for(record.channel, record.placement) or Greedy()

    return policy_for


def replay(
    decider: Decider,
    decisions: Iterable[JoinedDecision],
    policy_for: PolicyFor = greedy,
    arm: Assignment | None = None,
) -> Replay:
    """The candidate's choices on the logged decisions: in `arm` when one is given, else
    in each customer's own arm of the candidate's experiments (or none)."""
    counts = ReplayCounts()
    shown: set[tuple[int, str]] = set()
    chosen: set[tuple[int, str]] = set()
    index = {offer.id: offer.index for offer in decider.bundle.offers}
    rows: dict[str, list[list[float]]] = {name: [] for name in _COLUMNS}
    for record, outcomes in decisions:
        counts.decisions += 1
        offers = sorted(record.offers, key=lambda o: o.rank)[:MAX_SLOTS]
        if not all(_usable(o.logged_propensity) for o in offers):
            counts.refused_propensity += 1
            continue
        row: dict[str, list[float]] = {name: [] for name in _COLUMNS}
        if offers:
            try:
                ranking = decider.rank(request_of(record, len(offers)), arm=arm)
            except InvalidRequestError as exc:
                counts.refused_request += 1
                counts.problems[str(exc)] = counts.problems.get(str(exc), 0) + 1
                continue
            policy = (
                UNIFORM
                if ranking.assignment is not None and ranking.assignment.arm.policy == "random"
                else policy_for(record)
            )
            candidate = _Candidate(ranking, len(offers), policy, index)
        counts.evaluated += 1
        for slot, offer in enumerate(offers):
            rank = slot + 1
            shown.add((rank, offer.offer_id))
            column = candidate.column(slot)
            chosen.update((rank, candidate.order[i]) for i in np.flatnonzero(column > 0))
            position = candidate.position.get(offer.offer_id)
            target = float(column[position]) if position is not None else 0.0
            counts.slots += 1
            deterministic = offer.logged_propensity >= 1.0
            counts.deterministic_slots += deterministic
            counts.agreeing_slots += target > 0
            counts.no_overlap_slots += deterministic and target < float(column.sum())
            accepted = 1.0 if outcomes.get(offer.offer_id) == 1 else 0.0
            p_logged = value_logged = 0.0
            logged_at = index.get(offer.offer_id)
            if logged_at is not None:
                p_logged = float(ranking.propensity[logged_at])
                value_logged = float(ranking.value[logged_at])
            row["present"].append(1.0)
            row["logged"].append(offer.logged_propensity)
            row["target"].append(target)
            row["accepted"].append(accepted)
            row["p_logged"].append(p_logged)
            row["p_choice"].append(float(column @ candidate.expected_acceptance))
            row["value"].append(accepted * value_logged)
            row["pv_logged"].append(p_logged * value_logged)
            row["pv_choice"].append(float(column @ candidate.expected_value))
        for name in _COLUMNS:
            rows[name].append(row[name])
    counts.unexplored = chosen - shown
    width = max(1, max((len(r) for r in rows["present"]), default=0))

    def laid(name: str) -> FloatArray:
        return _laid_out(rows[name], width)

    present = laid("present")
    slots = LoggedSlots(
        present=present, logged=np.where(present > 0, laid("logged"), 1.0), target=laid("target")
    )
    return Replay(
        slots=slots,
        acceptance=SlotRewards(laid("accepted"), laid("p_logged"), laid("p_choice")),
        value=SlotRewards(laid("value"), laid("pv_logged"), laid("pv_choice")),
        counts=counts,
    )
