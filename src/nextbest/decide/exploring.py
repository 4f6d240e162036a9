"""Exploration in a decision: how the ranking is explored, and what is logged for it.

`Explorer.plan` turns a ranking into what the contact-pressure gate needs (the order it
walks and one pick per slot); `ExplorationPlan.explored` turns the gate's answer into the
logged propensity of every offer returned. Channels that do not explore get no plan: their
decisions go through exactly as before.

Pinned offers are never explored: their slots take the best allowed offer, and the slots
after them explore.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from nextbest.bundle import Bundle
from nextbest.decide.values import Explored, FloatArray, Ranking
from nextbest.exploration.capped import (
    affordable,
    allowed_at_start,
    binding_caps,
    capped_rank_probabilities,
    walk_frequencies,
)
from nextbest.exploration.draws import generator, uniforms
from nextbest.exploration.propensity import EpsilonGreedy, Thompson
from nextbest.pressure.types import CapCandidate

__all__ = ["THOMPSON_REPLAYS", "ExplorationPlan", "Explorer"]

THOMPSON_REPLAYS = 4_000
"""Seeded draws that estimate Thompson's propensities when the decision's own picks can
fill a cap (standard error at most 0.008)."""


@dataclass(frozen=True, slots=True)
class ExplorationPlan:
    policy: EpsilonGreedy | Thompson
    decision_id: str
    greedy: tuple[str, ...]
    """The ranking's order: pinned offers first, then by priority."""
    pinned: int
    order: tuple[str, ...]
    """The order the gate walks (Thompson: the pinned offers, then the drawn order)."""
    picks: tuple[float, ...]
    """One per slot: -1 for the best allowed offer, else the uniform that picks one."""
    epsilons: tuple[float, ...]
    propensity: Mapping[str, float] = field(default_factory=dict)
    """Thompson only, by offer id: the model's propensity..."""
    scale: Mapping[str, float] = field(default_factory=dict)
    """... and the rest of the priority (weight x value x lever x boost)."""

    def explored(
        self,
        selected: Sequence[str],
        considered: Sequence[CapCandidate],
        counts: Mapping[str, int],
        blocked: Mapping[str, str],
    ) -> Explored:
        """The logged propensities of `selected`, from what the gate chose among."""
        if isinstance(self.policy, EpsilonGreedy):
            matrix = capped_rank_probabilities(considered, counts, blocked, self.epsilons)
            row = {c.offer_id: i for i, c in enumerate(considered)}
            logged = tuple(float(matrix[row[o], r]) for r, o in enumerate(selected))
            drew = tuple(r + 1 for r in range(len(selected)) if self.picks[r] >= 0.0)
            return Explored("epsilon", self.policy.epsilon, logged, drew)
        return self._thompson(selected, considered, counts, blocked, self.policy)

    def _thompson(
        self,
        selected: Sequence[str],
        considered: Sequence[CapCandidate],
        counts: Mapping[str, int],
        blocked: Mapping[str, str],
        policy: Thompson,
    ) -> Explored:
        from nextbest.exploration.thompson import thompson_matrix, thompson_orders  # scipy

        by_id = {c.offer_id: c for c in considered}
        open_ids = {considered[i].offer_id for i in allowed_at_start(considered, counts, blocked)}
        allowed = [by_id[o] for o in self.greedy if o in open_ids]  # greedy order
        pinned = [c for c in allowed if self.greedy.index(c.offer_id) < self.pinned]
        drawn = allowed[len(pinned) :]
        k = len(self.picks)
        binding = binding_caps(allowed, counts, k)
        p = np.array([self.propensity[c.offer_id] for c in drawn])
        s = np.array([self.scale[c.offer_id] for c in drawn])
        if not binding:
            matrix = np.zeros((len(allowed), k))
            for i in range(min(len(pinned), k)):
                matrix[i, i] = 1.0
            if k > len(pinned) and drawn:
                slots = min(k - len(pinned), len(drawn))
                matrix[len(pinned) :, len(pinned) : len(pinned) + slots] = thompson_matrix(
                    p, s, slots, policy.prior_strength
                )
        else:
            rng = generator(self.decision_id + ":replay")
            head = np.broadcast_to(np.arange(len(pinned)), (THOMPSON_REPLAYS, len(pinned)))
            tail = len(pinned) + thompson_orders(p, s, policy.prior_strength, rng, THOMPSON_REPLAYS)
            orders = np.concatenate((head, tail), axis=1).tolist()
            matrix = walk_frequencies(allowed, binding, orders, k)
        row = {c.offer_id: i for i, c in enumerate(allowed)}
        logged = tuple(float(matrix[row[o], r]) for r, o in enumerate(selected))
        model_order = [c.offer_id for c in allowed]
        differs = tuple(
            r + 1 for r, o in enumerate(selected) if r >= len(model_order) or model_order[r] != o
        )
        return Explored("thompson", policy.prior_strength, logged, differs)


class Explorer:
    """A bundle's exploration settings, and what they need of a ranking, laid out once."""

    def __init__(self, bundle: Bundle) -> None:
        self._settings = bundle.exploration
        self._policies = bundle.policies
        self._index_of = {o.id: o.index for o in bundle.offers}

    def plan(
        self, ranking: Ranking, policy: EpsilonGreedy | Thompson | None = None
    ) -> ExplorationPlan | None:
        """How this decision explores; None when its channel and placement do not.
        `policy` overrides the bundle's settings (an experiment arm's `random` policy is
        `EpsilonGreedy(1.0)`: uniform among the offers the caps allow)."""
        context = ranking.request.context
        if policy is None:
            policy = self._settings.policy_for(context.channel, context.placement)
        if policy is None:
            return None
        order = ranking.order
        limit = min(ranking.request.limit, len(order))
        if not affordable(len(order), limit) and any(
            self._policies.needs_check(context.channel, o) for o in order
        ):
            return None  # the exact replay would cost too much: this decision is greedy
        verdicts, index_of = ranking.verdicts, self._index_of
        pinned = 0
        while pinned < len(order) and verdicts[index_of[order[pinned]]].pinned:
            pinned += 1
        if isinstance(policy, EpsilonGreedy):
            epsilons = tuple(0.0 if s < pinned else policy.epsilon for s in range(limit))
            u = uniforms(ranking.decision_id, 2 * limit)
            picks = tuple(u[2 * s + 1] if u[2 * s] < epsilons[s] else -1.0 for s in range(limit))
            return ExplorationPlan(
                policy, ranking.decision_id, order, pinned, order, picks, epsilons
            )
        from nextbest.exploration.thompson import thompson_order  # scipy: only if used

        index = [index_of[o] for o in order]
        propensity = ranking.propensity[index]
        scale: FloatArray = (ranking.weight * ranking.value * ranking.lever * ranking.boost)[index]
        drawn = thompson_order(
            propensity[pinned:],
            scale[pinned:],
            policy.prior_strength,
            generator(ranking.decision_id),
        )
        return ExplorationPlan(
            policy=policy,
            decision_id=ranking.decision_id,
            greedy=order,
            pinned=pinned,
            order=(*order[:pinned], *(order[pinned + i] for i in drawn)),
            picks=(-1.0,) * limit,
            epsilons=(0.0,) * limit,
            propensity=dict(zip(order, propensity.tolist(), strict=True)),
            scale=dict(zip(order, scale.tolist(), strict=True)),
        )
