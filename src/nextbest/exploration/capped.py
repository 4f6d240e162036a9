"""Exact rank probabilities of epsilon-greedy when caps decide what each slot may take.

The store samples over the offers its caps and back-offs allow at each slot (see
`ContactStore.select` with `picks`) and answers each cap's count before the decision and
which offers were blocked. From that, the selection is replayed here for every draw:

- No cap can fill up during the decision (each has room for more picks than the
  decision can make among the offers it covers): the allowed offers are the same at
  every slot, and the closed form of `epsilon_greedy_matrix` applies to them.
- Otherwise the decision's own picks can change what a later slot may take: a dynamic
  programme over the sets of offers picked so far, with the store's rule at each slot
  (the first allowed offer, or a uniform one). Exact; its cost grows as the number of
  such sets, which `affordable` bounds before the decision explores at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from functools import cache
from math import comb

import numpy as np

from nextbest.exploration.propensity import FloatMatrix, epsilon_greedy_matrix
from nextbest.pressure.types import CapCandidate

__all__ = [
    "MAX_STATES",
    "affordable",
    "allowed_at_start",
    "binding_caps",
    "capped_rank_probabilities",
    "walk_frequencies",
]

MAX_STATES = 5_000
"""The most sets of picked offers the dynamic programme may have to visit."""


@cache
def affordable(candidates: int, slots: int) -> bool:
    """Whether the exact replay stays within MAX_STATES whatever the caps' counts."""
    return sum(comb(candidates, s) for s in range(min(slots, candidates))) <= MAX_STATES


def capped_rank_probabilities(
    candidates: Sequence[CapCandidate],
    counts: Mapping[str, int],
    blocked: Mapping[str, str],
    epsilons: Sequence[float],
) -> FloatMatrix:
    """[i, s]: the probability that `candidates[i]` (in rank order) fills slot s, for the
    per-slot `epsilons`, given each cap's count before the decision (`counts`) and the
    offers the store reported `blocked` (by a back-off marker when the blocking policy is
    none of the offer's caps: markers do not change within a decision)."""
    n, k = len(candidates), len(epsilons)
    allowed = allowed_at_start(candidates, counts, blocked)
    binding = binding_caps([candidates[i] for i in allowed], counts, k)
    matrix = np.zeros((n, k))
    if not binding:
        slots = min(k, len(allowed))
        matrix[np.ix_(allowed, range(slots))] = epsilon_greedy_matrix(
            len(allowed), slots, epsilons[:slots]
        )
        return matrix
    matrix[allowed, :] = _replay([candidates[i] for i in allowed], binding, epsilons)
    return matrix


def allowed_at_start(
    candidates: Sequence[CapCandidate], counts: Mapping[str, int], blocked: Mapping[str, str]
) -> list[int]:
    """Indices of the candidates no back-off marker and no full cap blocked before the
    decision's first pick."""
    return [i for i, c in enumerate(candidates) if _open_at_start(c, counts, blocked)]


def _open_at_start(
    candidate: CapCandidate, counts: Mapping[str, int], blocked: Mapping[str, str]
) -> bool:
    caps = {cap.policy_id for cap in candidate.caps}
    reason = blocked.get(candidate.offer_id)
    if reason is not None and reason not in caps:
        return False  # a back-off marker
    return all(counts.get(cap.policy_id, 0) < cap.limit for cap in candidate.caps)


def binding_caps(
    allowed: Sequence[CapCandidate], counts: Mapping[str, int], k: int
) -> dict[str, int]:
    """Caps that the decision's own picks (at most k) among `allowed` can fill, with the
    room each has left."""
    members: dict[str, int] = defaultdict(int)
    room: dict[str, int] = {}
    for candidate in allowed:
        for cap in candidate.caps:
            members[cap.policy_id] += 1
            room[cap.policy_id] = cap.limit - counts.get(cap.policy_id, 0)
    return {c: r for c, r in room.items() if r <= min(k - 1, members[c] - 1)}


def walk_frequencies(
    allowed: Sequence[CapCandidate],
    binding: Mapping[str, int],
    orders: Sequence[Sequence[int]],
    k: int,
) -> FloatMatrix:
    """[i, s]: the share of `orders` (permutations of `allowed`'s indices) in which the
    store's greedy walk, counting the decision's own picks against the `binding` caps,
    puts `allowed[i]` in slot s."""
    caps = [[cap.policy_id for cap in a.caps if cap.policy_id in binding] for a in allowed]
    counts = np.zeros((len(allowed), k))
    for order in orders:
        used: dict[str, int] = defaultdict(int)
        slot = 0
        for i in order:
            if any(used[c] >= binding[c] for c in caps[i]):
                continue
            counts[i, slot] += 1
            for c in caps[i]:
                used[c] += 1
            slot += 1
            if slot == k:
                break
    return counts / max(len(orders), 1)


def _replay(
    allowed: Sequence[CapCandidate],
    binding: Mapping[str, int],
    epsilons: Sequence[float],
) -> FloatMatrix:
    n, k = len(allowed), len(epsilons)
    caps = list(binding)
    room = [binding[c] for c in caps]
    members = [
        sum(1 << i for i, a in enumerate(allowed) if any(cap.policy_id == c for cap in a.caps))
        for c in caps
    ]
    own = [[j for j, c in enumerate(caps) if members[j] >> i & 1] for i in range(n)]
    matrix = np.zeros((n, k))
    states: dict[int, float] = {0: 1.0}
    for slot, epsilon in enumerate(epsilons):
        following: dict[int, float] = defaultdict(float)
        for picked, p in states.items():
            full = [(picked & members[j]).bit_count() >= room[j] for j in range(len(caps))]
            open_now = [
                i for i in range(n) if not picked >> i & 1 and not any(full[j] for j in own[i])
            ]
            if not open_now:
                continue
            uniform = p * epsilon / len(open_now)
            for position, i in enumerate(open_now):
                q = uniform + (p * (1.0 - epsilon) if position == 0 else 0.0)
                if q > 0.0:
                    matrix[i, slot] += q
                    following[picked | 1 << i] += q
        states = following
    return matrix
