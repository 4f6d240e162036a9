"""Off-policy estimators for ranked lists, under the item-position model.

Logged traffic is laid out as decisions (rows) by slots (columns; slot k is rank k + 1).
The item-position model (Li, Kim and Zitouni, "Offline Evaluation of Ranking Policies
with Click Models", KDD 2018) takes the reward at a slot to depend on the request, the
offer in that slot and the slot alone, so a list's value is the sum of its slots'
values, and each slot is estimated on its own from the logged offer's marginal
probability of being at that rank (the logged propensity). The estimators, per slot k,
over n decisions, with w = pi(logged offer at k | x) / pi_0(logged offer at k | x):

- IPS (Horvitz and Thompson 1952): sum_i w_ik r_ik / n;
- SNIPS (Swaminathan and Joachims 2015): (n_k / n) sum_i w_ik r_ik / sum_i w_ik, where
  n_k counts the decisions that filled slot k (the self-normalisation runs per slot);
- DR (Dudik, Langford and Li 2011): sum_i [sum_a pi(a at k | x_i) q(x_i, a)
  + w_ik (r_ik - q(x_i, a_ik))] / n, with q the candidate's own reward model.

Every estimator takes `counts`: how many times each decision is counted, shape (n,) for
the estimate itself (all ones) or (B, n) for B bootstrap resamples at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ESTIMATORS",
    "Estimator",
    "FloatArray",
    "LoggedSlots",
    "SlotRewards",
    "direct_method",
    "doubly_robust",
    "effective_sample_size",
    "ips",
    "logged_value",
    "snips",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LoggedSlots:
    """Who filled which slot and how likely that was, arrays of shape (n, slots)."""

    present: FloatArray
    """1 where the logged decision filled the slot, else 0."""
    logged: FloatArray
    """pi_0: the logged propensity of the offer shown in the slot (1 where empty)."""
    target: FloatArray
    """pi: the candidate's probability of putting that same offer in that slot."""

    @property
    def weights(self) -> FloatArray:
        """The importance weights pi / pi_0, 0 in empty slots."""
        weights: FloatArray = self.present * self.target / self.logged
        return weights


@dataclass(frozen=True)
class SlotRewards:
    """One measure (acceptance, value), arrays of shape (n, slots), 0 in empty slots."""

    observed: FloatArray
    """r: what the logged offer earned."""
    predicted: FloatArray
    """q(x, logged offer): the reward model's expectation for the logged offer."""
    direct: FloatArray
    """sum_a pi(a at k | x) q(x, a): the reward model's expectation for the candidate's
    choice in the slot."""


def _sums(counts: NDArray[np.float64], per_decision: FloatArray) -> FloatArray:
    """Per slot, the counted sum over decisions: shape (slots,) or (B, slots)."""
    sums: FloatArray = counts @ per_decision
    return sums


def _total(counts: NDArray[np.float64]) -> FloatArray:
    total: FloatArray = np.asarray(counts.sum(axis=-1), dtype=np.float64)
    return total


def logged_value(counts: FloatArray, slots: LoggedSlots, rewards: SlotRewards) -> FloatArray:
    """What the logging policy earned per decision (on-policy, no weights)."""
    summed: FloatArray = _sums(counts, slots.present * rewards.observed).sum(axis=-1)
    return summed / _total(counts)


def ips(counts: FloatArray, slots: LoggedSlots, rewards: SlotRewards) -> FloatArray:
    summed: FloatArray = _sums(counts, slots.weights * rewards.observed).sum(axis=-1)
    return summed / _total(counts)


def snips(counts: FloatArray, slots: LoggedSlots, rewards: SlotRewards) -> FloatArray:
    weights = slots.weights
    weighted = _sums(counts, weights * rewards.observed)
    normaliser = _sums(counts, weights)
    filled = _sums(counts, slots.present)
    per_slot = np.divide(weighted, normaliser, out=np.zeros_like(weighted), where=normaliser > 0)
    summed: FloatArray = (filled * per_slot).sum(axis=-1)
    return summed / _total(counts)


def direct_method(counts: FloatArray, slots: LoggedSlots, rewards: SlotRewards) -> FloatArray:
    """The reward model's value of the candidate's choices (not reported on its own; the
    baseline DR corrects)."""
    summed: FloatArray = _sums(counts, slots.present * rewards.direct).sum(axis=-1)
    return summed / _total(counts)


def doubly_robust(counts: FloatArray, slots: LoggedSlots, rewards: SlotRewards) -> FloatArray:
    correction = slots.weights * (rewards.observed - rewards.predicted)
    summed: FloatArray = _sums(counts, slots.present * rewards.direct + correction).sum(axis=-1)
    return summed / _total(counts)


Estimator = Callable[[FloatArray, LoggedSlots, SlotRewards], FloatArray]

ESTIMATORS: dict[str, Estimator] = {"IPS": ips, "SNIPS": snips, "DR": doubly_robust}


def effective_sample_size(weights: FloatArray, present: FloatArray) -> float:
    """Kish's effective sample size, (sum w)^2 / sum w^2, over the filled slots: how many
    logged slots the weighted estimate is worth (their count when pi = pi_0)."""
    filled = weights[present > 0]
    squares = float(np.sum(filled**2))
    return float(np.sum(filled)) ** 2 / squares if squares > 0 else 0.0
