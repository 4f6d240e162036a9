"""The estimators against values computed by hand on a two-decision log."""

from __future__ import annotations

import numpy as np
import pytest

from nextbest.evaluation.bootstrap import percentile_interval, percentile_intervals
from nextbest.evaluation.estimators import (
    LoggedSlots,
    SlotRewards,
    direct_method,
    doubly_robust,
    effective_sample_size,
    ips,
    logged_value,
    snips,
)

# Decision 1 filled two slots: a at rank 1 (pi_0 0.5, the candidate puts it there too,
# accepted), b at rank 2 (pi_0 0.25, the candidate puts another offer there, accepted).
# Decision 2 filled one slot: c at rank 1 (pi_0 0.25, the candidate agrees, declined).
SLOTS = LoggedSlots(
    present=np.array([[1.0, 1.0], [1.0, 0.0]]),
    logged=np.array([[0.5, 0.25], [0.25, 1.0]]),
    target=np.array([[1.0, 0.0], [1.0, 0.0]]),
)
REWARDS = SlotRewards(
    observed=np.array([[1.0, 1.0], [0.0, 0.0]]),
    predicted=np.array([[0.4, 0.3], [0.2, 0.0]]),
    direct=np.array([[0.4, 0.5], [0.2, 0.0]]),
)
ONES = np.ones(2)


def test_weights_are_target_over_logged_in_filled_slots() -> None:
    assert SLOTS.weights.tolist() == [[2.0, 0.0], [4.0, 0.0]]


def test_logged_value_is_the_observed_reward_per_decision() -> None:
    assert logged_value(ONES, SLOTS, REWARDS) == pytest.approx((1 + 1 + 0) / 2)


def test_ips() -> None:
    # (2 x 1 + 0 x 1 + 4 x 0) / 2 decisions
    assert ips(ONES, SLOTS, REWARDS) == pytest.approx(1.0)


def test_snips_normalises_each_slot_by_its_weights() -> None:
    # rank 1: sum w r / sum w = 2 / 6, over the 2 decisions that filled it;
    # rank 2: no weight (the candidate never agrees there) -> 0
    assert snips(ONES, SLOTS, REWARDS) == pytest.approx((2 * (2 / 6) + 1 * 0.0) / 2)


def test_doubly_robust() -> None:
    # decision 1: [0.4 + 2 (1 - 0.4)] + [0.5 + 0 (1 - 0.3)] = 2.1
    # decision 2: [0.2 + 4 (0 - 0.2)] = -0.6
    assert doubly_robust(ONES, SLOTS, REWARDS) == pytest.approx((2.1 - 0.6) / 2)
    assert direct_method(ONES, SLOTS, REWARDS) == pytest.approx((0.4 + 0.5 + 0.2) / 2)


def test_counts_weigh_decisions_as_a_resample_does() -> None:
    twice_the_first = np.array([[2.0, 0.0], [0.0, 2.0]])
    assert ips(twice_the_first, SLOTS, REWARDS).tolist() == pytest.approx([2.0, 0.0])
    assert doubly_robust(twice_the_first, SLOTS, REWARDS).tolist() == pytest.approx([2.1, -0.6])


def test_effective_sample_size_is_kish_over_filled_slots() -> None:
    # weights 2, 0, 4: (6)^2 / (4 + 0 + 16)
    assert effective_sample_size(SLOTS.weights, SLOTS.present) == pytest.approx(1.8)
    uniform = np.ones((5, 2))
    assert effective_sample_size(uniform, uniform) == pytest.approx(10.0)


def test_doubly_robust_equals_ips_with_a_zero_reward_model() -> None:
    rng = np.random.default_rng(3)
    shape = (200, 3)
    slots = LoggedSlots(
        present=np.ones(shape),
        logged=rng.uniform(0.1, 1.0, shape),
        target=rng.integers(0, 2, shape).astype(float),
    )
    rewards = SlotRewards(
        observed=rng.integers(0, 2, shape).astype(float),
        predicted=np.zeros(shape),
        direct=np.zeros(shape),
    )
    ones = np.ones(200)
    assert doubly_robust(ones, slots, rewards) == pytest.approx(ips(ones, slots, rewards))


def test_when_the_candidate_is_the_logger_every_estimator_is_the_logged_value() -> None:
    rng = np.random.default_rng(4)
    shape = (300, 2)
    slots = LoggedSlots(present=np.ones(shape), logged=np.ones(shape), target=np.ones(shape))
    observed = rng.integers(0, 2, shape).astype(float)
    rewards = SlotRewards(
        observed=observed, predicted=np.full(shape, 0.3), direct=np.full(shape, 0.3)
    )
    ones = np.ones(300)
    expected = logged_value(ones, slots, rewards)
    for estimator in (ips, snips, doubly_robust):
        assert estimator(ones, slots, rewards) == pytest.approx(expected)


def test_the_bootstrap_interval_of_a_mean_is_close_to_the_normal_one() -> None:
    values = np.random.default_rng(5).normal(10.0, 2.0, 2000)
    mean = float(values.mean())
    half = 1.959964 * float(values.std(ddof=1)) / np.sqrt(2000)
    low, high = percentile_interval(lambda c: c @ values / c.sum(axis=-1), 2000, seed=1)
    assert low == pytest.approx(mean - half, abs=0.15 * half)
    assert high == pytest.approx(mean + half, abs=0.15 * half)
    again = percentile_interval(lambda c: c @ values / c.sum(axis=-1), 2000, seed=1)
    assert again == (low, high)  # seeded


def test_several_statistics_share_the_resamples_and_get_what_each_gets_alone() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=500)
    other = rng.exponential(size=500)
    statistics = [
        lambda c: c @ values / c.sum(axis=-1),
        lambda c: c @ other / c.sum(axis=-1),
        lambda c: (c > 0).mean(axis=-1),
    ]
    together = percentile_intervals(statistics, 500, resamples=300, seed=5)
    alone = [percentile_interval(s, 500, resamples=300, seed=5) for s in statistics]
    assert together == alone
    assert together[0] != together[1]
    empty = percentile_intervals(statistics, 0)
    assert len(empty) == 3
    assert all(np.isnan(x) for pair in empty for x in pair)
