"""The exact probability that a policy puts each offer at each rank (the logged propensity).

`rank_probabilities(order, slots, policy)` answers for the offers a decision may show, in
the greedy order (best first), and the number of slots it fills:

- `Greedy()`: the order itself, probability 1 on the diagonal.
- `EpsilonGreedy(epsilon)`: slot by slot, with probability epsilon the slot is filled
  uniformly from the offers not yet shown, otherwise by the best of them; epsilon = 1 is
  the uniform random policy.
- `Thompson(prior_strength)`: every offer's propensity p is replaced by a draw from
  Beta(n0 p, n0 (1 - p)) and the offers are ranked by draw x scale (scale = the priority
  without the propensity: weight x value x lever x boost); see `thompson.py`.

The first `pinned` offers of the order are never explored: they fill the first slots in
their order (a pin is a business rule), and the policy explores the rest.

Epsilon-greedy is exact in closed form. Write S_r for the offers shown before slot r, m =
n - r for the offers left and b_r for the best of them. Then

    P(i at r) = epsilon / m * P(i not in S_r) + (1 - epsilon) * P(b_r = i).

The first term needs only the earlier columns. For the second, the offers better than b_r
are all in S_r, so b_r determines |S_r above b_r| = r - b_r, and (by symmetry: uniform
picks choose any remaining offer alike, greedy picks only b_r) those r - b_r offers are a
uniformly random subset of the offers below b_r in the order. b_r is therefore a Markov
chain on the index of the best remaining offer: it stays when a uniform pick takes another
offer, and when b_r itself is taken it moves past the run of already shown offers that
follows it, a run of length d with the hypergeometric probability
C(L - d - 1, c - d) / C(L, c) (L offers after b_r, c of them shown). The cost is
O(slots x n x slots): microseconds for a decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

import numpy as np
import numpy.typing as npt

__all__ = [
    "EpsilonGreedy",
    "Greedy",
    "Policy",
    "RankProbabilities",
    "Thompson",
    "rank_probabilities",
]

FloatMatrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Greedy:
    """The best remaining offer in every slot."""


@dataclass(frozen=True, slots=True)
class EpsilonGreedy:
    """Each slot: uniform among the offers left with probability epsilon, else the best."""

    epsilon: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"epsilon must be between 0 and 1, not {self.epsilon}")


@dataclass(frozen=True, slots=True)
class Thompson:
    """Rank by draw x scale, the draw from Beta(n0 p, n0 (1 - p)) around propensity p."""

    prior_strength: float
    """n0: how many responses the model's propensity is worth; larger explores less."""

    def __post_init__(self) -> None:
        if not self.prior_strength > 0.0:
            raise ValueError(f"prior_strength must be above 0, not {self.prior_strength}")


Policy = Greedy | EpsilonGreedy | Thompson


@dataclass(frozen=True, slots=True)
class RankProbabilities:
    """`matrix[i, r]`: the probability that `offers[i]` is shown at rank r + 1."""

    offers: tuple[str, ...]
    matrix: FloatMatrix

    def probability(self, offer_id: str, rank: int) -> float:
        """`rank` counts from 1, as in the response; 0.0 past the slots filled."""
        if rank > self.matrix.shape[1]:
            return 0.0
        return float(self.matrix[self.offers.index(offer_id), rank - 1])


def rank_probabilities(
    order: Sequence[str],
    slots: int,
    policy: Policy,
    *,
    pinned: int = 0,
    propensity: Sequence[float] | None = None,
    scale: Sequence[float] | None = None,
) -> RankProbabilities:
    """The probability of every offer of `order` (best first) at every rank up to `slots`.

    `propensity` and `scale` (aligned with `order`) are needed by `Thompson` only.
    """
    n = len(order)
    k = min(slots, n)
    pinned = min(pinned, n)
    matrix = np.zeros((n, k))
    shown_pinned = min(pinned, k)
    for j in range(shown_pinned):
        matrix[j, j] = 1.0
    if k > shown_pinned:
        matrix[pinned:, shown_pinned:] = _explored(
            n - pinned, k - shown_pinned, policy, propensity, scale, pinned
        )
    return RankProbabilities(tuple(order), matrix)


def _explored(
    n: int,
    k: int,
    policy: Policy,
    propensity: Sequence[float] | None,
    scale: Sequence[float] | None,
    skip: int,
) -> FloatMatrix:
    if isinstance(policy, Greedy):
        return np.eye(n, k)
    if isinstance(policy, EpsilonGreedy):
        return epsilon_greedy_matrix(n, k, policy.epsilon)
    if propensity is None or scale is None:
        raise ValueError("Thompson needs the offers' propensity and scale")
    from nextbest.exploration.thompson import thompson_matrix

    return thompson_matrix(
        np.asarray(propensity[skip:], dtype=np.float64),
        np.asarray(scale[skip:], dtype=np.float64),
        k,
        policy.prior_strength,
    )


def epsilon_greedy_matrix(n: int, k: int, epsilon: float | Sequence[float]) -> FloatMatrix:
    """P(offer i at rank r) for epsilon-greedy over n offers (index = greedy order), k <= n
    slots; `epsilon` may differ per slot (the derivation holds slot by slot)."""
    epsilons = [float(epsilon)] * k if isinstance(epsilon, float | int) else list(epsilon)
    matrix = np.zeros((n, k))
    not_shown = np.ones(n)
    best = np.zeros(n)  # P(b_r = index)
    if n:
        best[0] = 1.0
    for r in range(k):
        m = n - r
        e = epsilons[r]
        column = e / m * not_shown + (1.0 - e) * best
        matrix[:, r] = column
        not_shown -= column
        if r + 1 < k:
            best = _next_best(best, r, n, m, e)
    return matrix


def _next_best(best: FloatMatrix, r: int, n: int, m: int, epsilon: float) -> FloatMatrix:
    taken = (1.0 - epsilon) + epsilon / m
    following = np.zeros(n)
    following[: r + 1] = best[: r + 1] * (1.0 - taken)
    for b in range(min(r, n - 1) + 1):
        mass = best[b] * taken
        if mass == 0.0:
            continue
        after, shown = n - 1 - b, r - b
        total = comb(after, shown)
        for run in range(shown + 1):
            following[b + 1 + run] += mass * comb(after - run - 1, shown - run) / total
    return following
