"""The default training run: choose by cross-validation, then refit on every row.

encode all rows (no outcome learnt) -> stratified sample for the choice if the history is
larger than ``selection_rows`` -> k-fold cross-validation of every candidate
(:mod:`.selection`) -> the winner refitted on all rows -> its sigmoid fitted on its
out-of-fold scores (:mod:`.calibration`). The figures reported are the winner's
out-of-fold ones: every row scored by a model that did not see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from nextbest.training.calibration import attach_calibration
from nextbest.training.errors import TrainingError
from nextbest.training.evaluate import HoldoutMetrics, evaluate
from nextbest.training.families import (
    FAMILIES,
    GBT_MAX_ROWS,
    Candidate,
    Family,
    candidates,
    fit_classifier,
    scaled,
)
from nextbest.training.features import FeatureSpec
from nextbest.training.pipeline import Calibration, build_encoder, feature_matrix
from nextbest.training.progress import Progress
from nextbest.training.selection import Scored, choose, cross_validate, fold_of

__all__ = ["Crossfit", "crossfit", "families_for"]


@dataclass(frozen=True, slots=True)
class Crossfit:
    """The refitted pipeline, every candidate's figures, and the winner's out-of-fold
    evaluation over the rows the choice was made on."""

    pipeline: Pipeline
    results: tuple[Scored, ...]
    winner: Scored
    oof: HoldoutMetrics
    folds: int
    selection_rows: int
    refit_rows: int


def families_for(choice: str, rows: int) -> tuple[Family, ...]:
    """The families a run tries: the one fixed, or for ``auto`` all of them, exact-split
    ``gbt`` only up to :data:`GBT_MAX_ROWS` rows."""
    if choice != "auto":
        return (choice,)  # type: ignore[return-value]  # checked by the spec's Literal
    return tuple(f for f in FAMILIES if f != "gbt" or rows <= GBT_MAX_ROWS)


def _sample(outcome: NDArray[Any], limit: int, seed: int) -> NDArray[np.intp]:
    rows = np.arange(outcome.size)
    if outcome.size <= limit:
        return rows
    chosen, _ = train_test_split(rows, train_size=limit, stratify=outcome, random_state=seed)
    return np.sort(chosen)


def _encode(encoder: Any, matrix: NDArray[Any]) -> Any:
    """Fit ``encoder`` and encode ``matrix`` in one pass (a ``ColumnTransformer``'s ``fit``
    computes the whole output anyway), as sparse rows."""
    return sparse.csr_matrix(encoder.fit_transform(matrix))


def _few_of_each(outcome: NDArray[Any]) -> NDArray[np.intp]:
    """Rows with at least two of each class, for the calibration wrapper's structure."""
    return np.sort(
        np.concatenate([np.flatnonzero(outcome == 1)[:4], np.flatnonzero(outcome == 0)[:4]])
    )


def crossfit(
    columns: Mapping[str, NDArray[Any]],
    outcome: NDArray[Any],
    features: tuple[FeatureSpec, ...],
    *,
    family: str,
    params: Mapping[str, Any],
    calibration: Calibration,
    folds: int,
    selection_rows: int,
    seed: int,
    progress: Progress,
    spec_file: str,
) -> Crossfit:
    """Choose, refit and calibrate; ``family`` is ``auto`` or one family."""
    rows = int(outcome.size)
    chosen_families = families_for(family, rows)
    grid: list[Candidate] = []
    try:
        for f in chosen_families:
            grid += candidates(f, params if family != "auto" else None)
    except (TypeError, ValueError) as exc:
        raise TrainingError(spec_file, "model.params", str(exc)) from exc

    with progress.step(f"encoding {rows} rows"):
        matrix = feature_matrix(columns, features)
        scalings = sorted({scaled(f) for f in chosen_families})
        encoders = {s: build_encoder(features, scale=s, sparse=True) for s in scalings}
        encoded = {s: _encode(e, matrix) for s, e in encoders.items()}
        del matrix

    picked = _sample(outcome, selection_rows, seed)
    y_pick = outcome[picked]
    fold = fold_of(y_pick, folds, seed)
    sample = {s: m[picked] if picked.size < rows else m for s, m in encoded.items()}
    where = f"{picked.size} rows" + (
        "" if picked.size == rows else f" (stratified sample of {rows})"
    )
    with progress.bar(
        f"cross-validating {len(grid)} candidates x {folds} folds on {where}", len(grid) * folds
    ) as advance:
        try:
            results = cross_validate(
                sample, y_pick, fold, grid, seed=seed, calibration=calibration, advance=advance
            )
        except ValueError as exc:
            if not params:
                raise
            raise TrainingError(spec_file, "model.params", str(exc)) from exc
    del sample
    winner = choose(results)

    with progress.step(f"refitting {winner.label()} on all {rows} rows"):
        x = encoded[scaled(winner.family)]
        model = fit_classifier(winner.family, winner.params, x, outcome, seed=seed)
        classify: Any = model
        if winner.platt is not None and winner.family == "lgbm":
            from nextbest.training._lightgbm import with_platt  # imported when used

            classify = with_platt(model, winner.platt.a, winner.platt.b)
        elif winner.platt is not None:
            few = _few_of_each(outcome)
            classify = attach_calibration(model, winner.platt, x[few], outcome[few])
    pipeline = Pipeline([("encode", encoders[scaled(winner.family)]), ("classify", classify)])
    return Crossfit(
        pipeline=pipeline,
        results=tuple(results),
        winner=winner,
        oof=evaluate(y_pick, winner.oof_probability),
        folds=folds,
        selection_rows=int(picked.size),
        refit_rows=rows,
    )
