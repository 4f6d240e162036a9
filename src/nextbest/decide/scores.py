"""Scoring: every offer's propensity, one ONNX run per model for one or several requests."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from nextbest.bundle import Bundle, offer_facts
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


def _by_one_model(
    _fixed: FloatArray, models: Sequence[PropensityModel], facts: Sequence[Facts]
) -> list[FloatArray]:
    """As `_propensities` when one model scores every offer, in catalogue order: its rows
    as they are (no fixed propensity to copy in, no columns to place)."""
    return list(models[0].score_many(facts))


def _alone(score_many: Callable[[Sequence[Facts]], list[FloatArray]], facts: Facts) -> FloatArray:
    return score_many([facts])[0]


def _reassigned(
    bundle: Bundle, model_of: Mapping[int, str]
) -> tuple[FloatArray, tuple[PropensityModel, ...]]:
    """The fixed propensities and the models when `model_of` (offer index -> model id)
    moves offers to other models: each model's ONNX session is shared, not reopened."""
    chosen = [model_of.get(o.index, o.model) for o in bundle.offers]
    fixed = np.array(
        [o.fixed_propensity if chosen[o.index] is None else np.nan for o in bundle.offers],
        dtype=np.float64,
    )
    if not model_of:  # a model no offer uses is never run (ONNX refuses zero rows)
        return fixed, tuple(m for m in bundle.models if len(m.offer_indices))
    models = []
    for model in bundle.models:
        covered = [o for o in bundle.offers if chosen[o.index] == model.id]
        if covered:
            models.append(
                model.covering([o.index for o in covered], [offer_facts(o) for o in covered])
            )
    return fixed, tuple(models)


class Scorer:
    """Offers with a fixed propensity keep it; the others get their model's score.
    `model_of` (an experiment arm's) has other models score some offers."""

    def __init__(self, bundle: Bundle, model_of: Mapping[int, str] | None = None) -> None:
        fixed, models = _reassigned(bundle, model_of or {})
        # no reference back to the scorer: a replaced one is freed at once, without
        # waiting for the cycle collector (start-up objects are frozen out of it)
        covers_all = len(models) == 1 and np.array_equal(
            models[0].offer_indices, np.arange(len(fixed))
        )
        score_many = _by_one_model if covers_all else _propensities
        self._score_many = functools.partial(score_many, fixed, models)
        self._score_one: Callable[[Facts], FloatArray] = (
            models[0].score if covers_all else functools.partial(_alone, self._score_many)
        )
        self._batcher = ScoringBatcher(self._score_many)

    @property
    def batcher(self) -> ScoringBatcher[Facts, FloatArray]:
        return self._batcher

    def score(self, facts: Facts) -> FloatArray:
        return self._score_one(facts)

    async def score_together(self, facts: Facts) -> FloatArray:
        """As `score`, in one run with the other decisions that reach scoring in the same
        turn of the event loop (see nextbest.scoring.batch)."""
        return await self._batcher.score(facts)
