"""Scoring: the propensities of the offers a decision can return, one ONNX run per model
for one or several requests.

A request is scored on the offers it wants: its eligible offers, or every offer when it
asks for the explanation (which shows each offer's propensity). An offer a model would
score that the request does not want gets 0: nothing reads it. A request that wants no
such offer runs no model."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from nextbest.bundle import Bundle, offer_facts
from nextbest.decide.values import Facts, FloatArray, IndexArray
from nextbest.scoring import PropensityModel
from nextbest.scoring.batch import ScoringBatcher

__all__ = ["Scorer"]


Wanted = IndexArray | None
"""The offers a request is scored on (indices, catalogue order); None: every offer."""


class _Model(NamedTuple):
    model: PropensityModel
    position: IndexArray
    """Offer index -> the offer's position in the model's offers, or -1."""


def _covering(models: Sequence[PropensityModel], offers: int) -> tuple[_Model, ...]:
    covering = []
    for model in models:
        position = np.full(offers, -1, dtype=np.intp)
        position[model.offer_indices] = np.arange(len(model.offer_indices))
        covering.append(_Model(model, position))
    return tuple(covering)


def _propensities(
    unscored: FloatArray, models: Sequence[_Model], items: Sequence[tuple[Facts, Wanted]]
) -> list[FloatArray]:
    """Each request's propensities: one run per model over the offers it covers that the
    requests want."""
    propensity = np.tile(unscored, (len(items), 1))
    for model, position in models:
        facts: list[Facts] = []
        rows: list[IndexArray] = []
        of_request: list[int] = []
        for n, (request_facts, wanted) in enumerate(items):
            if wanted is None:
                covered = model.all_rows
            else:
                covered = position[wanted]
                covered = covered[covered >= 0]
                if not len(covered):
                    continue
            facts.append(request_facts)
            rows.append(covered)
            of_request.append(n)
        if facts:
            scores = model.score_rows(facts, rows)
            at = np.repeat(of_request, [len(r) for r in rows])
            propensity[at, model.offer_indices[np.concatenate(rows)]] = scores
    return list(propensity)


def _by_one_model(
    unscored: FloatArray, models: Sequence[_Model], items: Sequence[tuple[Facts, Wanted]]
) -> list[FloatArray]:
    """As `_propensities` when one model scores every offer, in catalogue order: the rows
    wanted are the offers' indices (every request wants one offer at least)."""
    model = models[0].model
    every = model.all_rows
    if len(items) == 1:  # a decision alone (in process, or alone in its turn of the loop)
        facts, wanted = items[0]
        if wanted is None:
            return [model.score_rows((facts,), (every,))]
        alone = unscored.copy()
        alone[wanted] = model.score_rows((facts,), (wanted,))
        return [alone]
    rows = [every if wanted is None else wanted for _, wanted in items]
    scores = model.score_rows([facts for facts, _ in items], rows)
    if all(r is every for r in rows):
        return list(scores.reshape(len(items), len(every)))
    propensity = np.tile(unscored, (len(items), 1))
    start = 0
    for row, wanted in zip(propensity, rows, strict=True):
        row[wanted] = scores[start : start + len(wanted)]
        start += len(wanted)
    return list(propensity)


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
    """Offers with a fixed propensity keep it; the others get their model's score when
    the request wants them (see `Wanted`), else 0. `model_of` (an experiment arm's) has
    other models score some offers."""

    def __init__(self, bundle: Bundle, model_of: Mapping[int, str] | None = None) -> None:
        fixed, models = _reassigned(bundle, model_of or {})
        self.unscored: FloatArray = np.nan_to_num(fixed, nan=0.0)
        """The propensities of a request that wants no offer a model scores."""
        self.unscored.flags.writeable = False
        covers_all = len(models) == 1 and np.array_equal(
            models[0].offer_indices, np.arange(len(fixed))
        )
        score_many = _by_one_model if covers_all else _propensities
        # no reference back to the scorer: a replaced one is freed at once, without
        # waiting for the cycle collector (start-up objects are frozen out of it)
        self._score_many = functools.partial(
            score_many, self.unscored, _covering(models, len(fixed))
        )
        self._batcher = ScoringBatcher(self._score_many)

    @property
    def batcher(self) -> ScoringBatcher[tuple[Facts, Wanted], FloatArray]:
        return self._batcher

    def score(self, facts: Facts, wanted: Wanted = None) -> FloatArray:
        if wanted is not None and not len(wanted):
            return self.unscored
        return self._score_many([(facts, wanted)])[0]

    async def score_together(self, facts: Facts, wanted: Wanted = None) -> FloatArray:
        """As `score`, in one run with the other decisions that reach scoring in the same
        turn of the event loop (see nextbest.scoring.batch)."""
        if wanted is not None and not len(wanted):
            return self.unscored
        return await self._batcher.score((facts, wanted))
