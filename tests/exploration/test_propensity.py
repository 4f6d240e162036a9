"""The logged propensities of greedy and epsilon-greedy, against enumeration and simulation."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nextbest.exploration.propensity import (
    EpsilonGreedy,
    Greedy,
    epsilon_greedy_matrix,
    rank_probabilities,
)


def _sequences(
    remaining: tuple[int, ...], slots: int, epsilon: float
) -> Iterator[tuple[tuple[int, ...], float]]:
    """Every sequence epsilon-greedy can show, with its probability, by brute force."""
    if slots == 0 or not remaining:
        yield (), 1.0
        return
    m = len(remaining)
    for position, offer in enumerate(remaining):
        p = epsilon / m + (1.0 - epsilon if position == 0 else 0.0)
        rest = remaining[:position] + remaining[position + 1 :]
        for tail, q in _sequences(rest, slots - 1, epsilon):
            yield (offer, *tail), p * q


def _enumerated(n: int, k: int, epsilon: float) -> np.ndarray:
    matrix = np.zeros((n, min(n, k)))
    for sequence, p in _sequences(tuple(range(n)), k, epsilon):
        for rank, offer in enumerate(sequence):
            matrix[offer, rank] += p
    return matrix


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.37, 0.9, 1.0])
def test_epsilon_greedy_matches_enumeration(n: int, k: int, epsilon: float) -> None:
    np.testing.assert_allclose(
        epsilon_greedy_matrix(n, min(n, k), epsilon), _enumerated(n, k, epsilon), atol=1e-12
    )


@given(
    n=st.integers(1, 40),
    k=st.integers(1, 10),
    epsilon=st.floats(0.0, 1.0),
)
def test_every_rank_is_filled_once_and_no_offer_twice(n: int, k: int, epsilon: float) -> None:
    matrix = epsilon_greedy_matrix(n, min(n, k), epsilon)
    assert (matrix >= -1e-12).all()
    np.testing.assert_allclose(matrix.sum(axis=0), 1.0, atol=1e-9)
    assert (matrix.sum(axis=1) <= 1.0 + 1e-9).all()


def test_uniform_random_is_one_over_n_everywhere() -> None:
    np.testing.assert_allclose(epsilon_greedy_matrix(7, 4, 1.0), np.full((7, 4), 1 / 7))


def test_greedy_and_epsilon_zero_are_the_order_itself() -> None:
    order = ["a", "b", "c", "d"]
    greedy = rank_probabilities(order, 3, Greedy())
    assert greedy.probability("b", 2) == 1.0
    assert greedy.probability("b", 1) == 0.0
    assert greedy.probability("d", 4) == 0.0
    np.testing.assert_array_equal(
        greedy.matrix, rank_probabilities(order, 3, EpsilonGreedy(0.0)).matrix
    )


def test_pinned_offers_keep_their_slots_and_the_rest_explores() -> None:
    order = ["pin", "a", "b", "c"]
    probabilities = rank_probabilities(order, 3, EpsilonGreedy(0.5), pinned=1)
    assert probabilities.probability("pin", 1) == 1.0
    np.testing.assert_allclose(probabilities.matrix[1:, 1:], epsilon_greedy_matrix(3, 2, 0.5))
    assert probabilities.matrix[1:, 0].sum() == 0.0


def test_more_pins_than_slots_leave_nothing_to_explore() -> None:
    probabilities = rank_probabilities(["p", "q", "a"], 1, EpsilonGreedy(1.0), pinned=2)
    np.testing.assert_array_equal(probabilities.matrix, [[1.0], [0.0], [0.0]])


def test_an_epsilon_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="epsilon"):
        EpsilonGreedy(1.5)


def _simulate(n: int, k: int, epsilon: float, draws: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = np.zeros((n, k))
    for _ in range(draws):
        remaining = list(range(n))
        for rank in range(k):
            if rng.random() < epsilon:
                offer = remaining.pop(int(rng.integers(len(remaining))))
            else:
                offer = remaining.pop(0)
            counts[offer, rank] += 1
    return counts


def test_epsilon_greedy_matches_simulation() -> None:
    """Per-cell binomial z-scores, Bonferroni over the cells at a 0.001 family-wise level."""
    n, k, epsilon, draws = 12, 4, 0.3, 40_000
    expected = epsilon_greedy_matrix(n, k, epsilon)
    observed = _simulate(n, k, epsilon, draws, seed=13) / draws
    sd = np.sqrt(expected * (1 - expected) / draws)
    z = np.abs(observed - expected) / np.where(sd > 0, sd, 1.0)
    assert z.max() < 4.06  # two-sided 0.001 / 48 cells
