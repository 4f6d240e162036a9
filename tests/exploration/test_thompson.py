"""Thompson sampling's rank probabilities: against adaptive quadrature and simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from nextbest.exploration.propensity import Thompson, rank_probabilities
from nextbest.exploration.thompson import beta_parameters, thompson_order, thompson_orders


def _first_by_quadrature(p: np.ndarray, scale: np.ndarray, n0: float, i: int) -> float:
    """P(offer i ranks first) = integral over u in (0, 1) of prod_j F_j(Q_i(u)) du (Q_i:
    offer i's quantile function), by scipy's adaptive quad."""
    a, b = beta_parameters(p, n0)
    keys = [stats.beta(a[j], b[j], scale=scale[j]) for j in range(len(p))]

    def integrand(u: float) -> float:
        y = keys[i].ppf(u)
        return float(np.prod([keys[j].cdf(y) for j in range(len(p)) if j != i]))

    breaks = sorted({float(keys[i].cdf(k.ppf(q))) for k in keys for q in (0.01, 0.5, 0.99)})
    return float(integrate.quad(integrand, 0.0, 1.0, points=breaks, limit=500)[0])


INTEGRATION_ERROR = 2e-4

CASES = [
    (np.array([0.30, 0.25, 0.10, 0.05]), np.array([1.0, 1.0, 1.0, 1.0]), 20.0),
    (np.array([0.02, 0.03, 0.50, 0.20, 0.21]), np.array([40.0, 30.0, 1.0, 2.0, 2.0]), 50.0),
    (np.array([0.101, 0.100, 0.300]), np.array([1.0, 1.0, 0.2]), 5_000.0),
    (np.array([0.01, 0.9, 0.4]), np.array([1.0, 0.5, 3.0]), 2.0),
]


@pytest.mark.parametrize(("p", "scale", "n0"), CASES)
def test_rank_one_matches_adaptive_quadrature(p: np.ndarray, scale: np.ndarray, n0: float) -> None:
    order = [f"o{i}" for i in range(len(p))]
    matrix = rank_probabilities(
        order, 3, Thompson(n0), propensity=p.tolist(), scale=scale.tolist()
    ).matrix
    expected = [_first_by_quadrature(p, scale, n0, i) for i in range(len(p))]
    np.testing.assert_allclose(matrix[:, 0], expected, atol=INTEGRATION_ERROR)


@pytest.mark.parametrize(("p", "scale", "n0"), CASES)
def test_every_rank_matches_simulation(p: np.ndarray, scale: np.ndarray, n0: float) -> None:
    """Per-cell binomial z-scores below 4 (about 0.001 family-wise over these cells), with
    the integration's own error added."""
    n, k, draws = len(p), 3, 40_000
    order = [f"o{i}" for i in range(n)]
    expected = rank_probabilities(
        order, k, Thompson(n0), propensity=p.tolist(), scale=scale.tolist()
    ).matrix
    rng = np.random.default_rng(7)
    counts = np.zeros((n, k))
    orders = thompson_orders(p, scale, n0, rng, draws)
    for rank in range(k):
        counts[:, rank] = np.bincount(orders[:, rank], minlength=n)
    observed = counts / draws
    sd = np.sqrt(expected * (1 - expected) / draws)
    assert (np.abs(observed - expected) < 4.0 * sd + INTEGRATION_ERROR).all(), (observed, expected)
    np.testing.assert_allclose(expected.sum(axis=0), 1.0, atol=INTEGRATION_ERROR)


def test_offers_without_positive_scale_follow_in_greedy_order() -> None:
    order = ["a", "zero", "b", "negative"]
    probabilities = rank_probabilities(
        order, 4, Thompson(10.0), propensity=[0.5, 0.9, 0.4, 0.9], scale=[1.0, 0.0, 1.0, -1.0]
    )
    assert probabilities.probability("zero", 3) == 1.0
    assert probabilities.probability("negative", 4) == 1.0
    assert probabilities.matrix[[0, 2], :2].sum() == pytest.approx(2.0)
    assert thompson_order(
        [0.5, 0.9, 0.4, 0.9], [1.0, 0.0, 1.0, -1.0], 10.0, np.random.default_rng(1)
    )[2:] == [1, 3]


def test_thompson_needs_propensity_and_scale() -> None:
    with pytest.raises(ValueError, match="propensity and scale"):
        rank_probabilities(["a", "b"], 1, Thompson(10.0))
