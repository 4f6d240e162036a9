"""The percentile bootstrap over decisions: each resample draws n decisions with
replacement (a decision's slots stay together), seeded, in chunks to bound memory. Several
statistics of the same decisions are taken over the same resamples, drawn once."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEFAULT_RESAMPLES", "percentile_interval", "percentile_intervals"]

DEFAULT_RESAMPLES = 1000
_CELLS_PER_CHUNK = 4_000_000

Statistic = Callable[[NDArray[np.float64]], NDArray[np.float64]]
"""Counts of shape (B, n) -> one value per resample, shape (B,)."""


def percentile_interval(
    statistic: Statistic,
    n: int,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """The (1 - level) / 2 and (1 + level) / 2 quantiles of the statistic over
    `resamples` bootstrap resamples of the n decisions."""
    [interval] = percentile_intervals([statistic], n, resamples=resamples, seed=seed, level=level)
    return interval


def percentile_intervals(
    statistics: Sequence[Statistic],
    n: int,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> list[tuple[float, float]]:
    """`percentile_interval` of each statistic, all over the same resamples (each is what
    `percentile_interval` gives it alone with the same seed)."""
    if n == 0:
        return [(float("nan"), float("nan"))] * len(statistics)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, _CELLS_PER_CHUNK // n))
    share = np.full(n, 1.0 / n)
    values: list[list[NDArray[np.float64]]] = [[] for _ in statistics]
    done = 0
    while done < resamples:
        size = min(chunk, resamples - done)
        counts = rng.multinomial(n, share, size=size).astype(np.float64)
        for statistic, taken in zip(statistics, values, strict=True):
            taken.append(statistic(counts))
        done += size
    tail = (1.0 - level) / 2.0
    intervals = []
    for taken in values:
        low, high = np.quantile(np.concatenate(taken), [tail, 1.0 - tail])
        intervals.append((float(low), float(high)))
    return intervals
