"""Thompson sampling's rank probabilities: against adaptive quadrature and simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from nextbest.exploration import thompson
from nextbest.exploration.propensity import Thompson, rank_probabilities
from nextbest.exploration.thompson import (
    beta_parameters,
    thompson_matrix,
    thompson_order,
    thompson_orders,
)


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


def _ranks_by_quadrature(p: np.ndarray, scale: np.ndarray, n0: float, k: int) -> np.ndarray:
    """P(offer i at rank r) for r < k: the integral over u in (0, 1) of the Poisson-binomial
    probability that exactly r of the others' keys exceed Q_i(u), by scipy's adaptive quad
    (breakpoints at the others' quantiles, mapped into offer i's probability space)."""
    n = len(p)
    a, b = beta_parameters(p, n0)

    def cdf(j: int, y: float) -> float:
        return float(special.betainc(a[j], b[j], min(max(y / scale[j], 0.0), 1.0)))

    def quantile(j: int, u: float) -> float:
        x = float(special.betaincinv(a[j], b[j], u))
        return scale[j] * (x if np.isfinite(x) else float(u >= 0.5))

    def exactly(above: list[float]) -> np.ndarray:
        polynomial = np.zeros(k)
        polynomial[0] = 1.0
        for q in above:
            polynomial[1:] = polynomial[1:] * (1.0 - q) + polynomial[:-1] * q
            polynomial[0] *= 1.0 - q
        return polynomial

    matrix = np.zeros((n, k))
    for i in range(n):
        levels = (1e-6, 1e-4, 0.01, 0.1, 0.5, 0.9, 0.99, 1 - 1e-4, 1 - 1e-6)
        breaks = sorted({cdf(i, quantile(j, q)) for j in range(n) for q in levels} - {0.0, 1.0})
        for r in range(min(k, n)):

            def integrand(u: float, i: int = i, r: int = r) -> float:
                y = quantile(i, u)
                return float(exactly([1.0 - cdf(j, y) for j in range(n) if j != i])[r])

            matrix[i, r] = integrate.quad(
                integrand, 0.0, 1.0, points=breaks, limit=1000, epsabs=1e-10, epsrel=1e-10
            )[0]
    return matrix


RANK_ERROR = 4e-4
"""Every rank, not only the first: the rule's error there reaches 3.0e-4 (identical offers,
all five ranks)."""
COLUMN_ERROR = 1e-3
"""A rank's probabilities summed over the offers, against 1 (6.5e-4 at most measured)."""

WIDE_CASES = [
    # very small propensities (n0 p = 0.05 .. 5), very different scales
    (np.array([1e-4, 2e-4, 1e-3, 0.01]), np.array([100.0, 80.0, 5.0, 1.0]), 500.0, 3),
    (np.array([0.5, 0.4, 0.001, 0.05]), np.array([1.0, 2.0, 1000.0, 10.0]), 200.0, 4),
    # a narrow Beta (large n0, p = 0.9) inside a wide one's mass
    (np.array([0.01, 0.9, 0.5]), np.array([50.0, 0.5, 0.8]), 500.0, 3),
    # ties: identical offers, every rank
    (np.array([0.2, 0.2, 0.2, 0.1, 0.1]), np.ones(5), 100.0, 5),
    # the weakest prior: U-shaped and J-shaped Betas
    (np.array([0.05, 0.5, 0.9, 0.3, 0.7]), np.array([3.0, 1.0, 0.5, 1.0, 1.2]), 2.0, 5),
    # two offers, narrow and nearly equal
    (np.array([0.3, 0.31]), np.array([1.0, 1.0]), 500.0, 2),
    # a = 1.2, b = 2,060: an upper tail too steep for the nodes' Gauss-Legendre sums (the
    # offer falls back to betainc at every node)
    (np.array([5.678e-4, 0.2, 0.197]), np.array([235.6, 95.5, 100.0]), 2062.9, 3),
]


@pytest.mark.parametrize(("p", "scale", "n0", "k"), WIDE_CASES)
def test_every_rank_matches_adaptive_quadrature(
    p: np.ndarray, scale: np.ndarray, n0: float, k: int
) -> None:
    matrix = thompson_matrix(p, scale, k, n0)
    expected = _ranks_by_quadrature(p, scale, n0, k)
    np.testing.assert_allclose(matrix[:, 0], expected[:, 0], atol=INTEGRATION_ERROR)
    np.testing.assert_allclose(matrix, expected, atol=RANK_ERROR)
    assert (matrix.sum(axis=1) <= 1.0 + 1e-12).all()
    assert (matrix >= 0.0).all()
    np.testing.assert_allclose(matrix.sum(axis=0), 1.0, atol=COLUMN_ERROR)


@pytest.mark.parametrize(
    ("p", "scale", "raised"),
    [
        (np.array([0.2, 0.4]), np.array([1.0, -1.0]), [0]),  # one raised offer
        (np.array([0.3, 0.6, 0.31]), np.array([1.0, 0.0, 1.0]), [0, 2]),  # two raised
    ],
)
def test_raised_offers_match_quadrature_and_the_rest_follow(
    p: np.ndarray, scale: np.ndarray, raised: list[int]
) -> None:
    n0, k = 500.0, len(p)
    matrix = thompson_matrix(p, scale, k, n0)
    expected = _ranks_by_quadrature(p[raised], scale[raised], n0, len(raised))
    np.testing.assert_allclose(matrix[raised, : len(raised)], expected, atol=INTEGRATION_ERROR)
    rest = [i for i in range(len(p)) if i not in raised]
    for position, i in enumerate(rest):
        assert matrix[i, len(raised) + position] == 1.0
    np.testing.assert_allclose(matrix.sum(axis=0), 1.0, atol=INTEGRATION_ERROR)


def test_nodes_the_gauss_legendre_sums_cannot_hold_fall_back_to_betainc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The steep case above takes the fallback: betainc at one offer's every node."""
    p, scale, n0, k = WIDE_CASES[-1]
    calls: list[tuple[int, ...]] = []

    def counted(*args: np.ndarray) -> np.ndarray:
        result = special.betainc(*args)
        calls.append(np.shape(result))
        return result

    monkeypatch.setattr(thompson, "betainc", counted)
    thompson_matrix(p, scale, k, n0)
    assert (1, len(thompson._LEVELS)) in calls
