"""Scoring: every offer's propensity, one ONNX run per model for one or several requests."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from nextbest.bundle import Bundle
from nextbest.decide.values import Facts, FloatArray
from nextbest.scoring import PropensityModel
from nextbest.scoring.batch import ScoringBatcher

__all__ = ["Scorer"]


def _propensities(
    fixed: FloatArray, models: Sequence[PropensityModel], facts: Sequence[Facts]
) -> list[FloatArray]:
    """Every offer's propensity for each of several requests: one run per model."""
    propensity = np.tile(fixed, (len(facts), 1))
    for model in models:
        propensity[:, model.offer_indices] = model.score_many(facts)
    return list(propensity)


class Scorer:
    """Offers with a fixed propensity keep it; the others get their model's score."""

    def __init__(self, bundle: Bundle) -> None:
        fixed = np.array(
            [
                o.fixed_propensity if o.fixed_propensity is not None else np.nan
                for o in bundle.offers
            ]
        )
        # no reference back to the scorer: a replaced one is freed at once, without
        # waiting for the cycle collector (start-up objects are frozen out of it)
        self._score_many = functools.partial(_propensities, fixed, bundle.models)
        self._batcher = ScoringBatcher(self._score_many)

    @property
    def batcher(self) -> ScoringBatcher[Facts, FloatArray]:
        return self._batcher

    def score(self, facts: Facts) -> FloatArray:
        return self._score_many([facts])[0]

    async def score_together(self, facts: Facts) -> FloatArray:
        """As `score`, in one run with the other decisions that reach scoring in the same
        turn of the event loop (see nextbest.scoring.batch)."""
        return await self._batcher.score(facts)
