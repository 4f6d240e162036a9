"""Choosing the model by stratified k-fold cross-validation.

Every candidate (a family's grid point and tree count, :mod:`.families`) is fitted on
k-1 folds and scores the fold it did not see, so each row gets one out-of-fold score per
candidate. With ``sigmoid`` calibration those scores are Platt-scaled (the sigmoid fitted
on all out-of-fold scores of that candidate: two parameters on thousands of rows), so
that candidates are compared as they would be served. The winner has the lowest mean
log loss over the folds; a tie at four decimals goes to the higher mean ROC AUC.

The encoding (median imputation, one-hot categories, standardisation for the linear
family) learns no outcome, so it is fitted once on the rows given, not per fold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from nextbest.training.calibration import PlattScale, fit_platt
from nextbest.training.families import Candidate, Family, fit_classifier, raw_scores, scaled
from nextbest.training.pipeline import Calibration

__all__ = ["Scored", "choose", "cross_validate", "fold_of"]


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate's cross-validated figures and its out-of-fold scores."""

    family: Family
    params: Mapping[str, Any]
    auc_mean: float
    auc_std: float
    log_loss_mean: float
    log_loss_std: float
    oof_score: NDArray[np.float64]
    oof_probability: NDArray[np.float64]
    platt: PlattScale | None

    def label(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.family}({shown})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "params": dict(self.params),
            "roc_auc": {"mean": _round(self.auc_mean), "std": _round(self.auc_std)},
            "log_loss": {"mean": _round(self.log_loss_mean), "std": _round(self.log_loss_std)},
        }


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def fold_of(outcome: NDArray[Any], folds: int, seed: int) -> NDArray[np.int64]:
    """The seeded stratified fold (0 .. folds-1) of every row."""
    fold = np.empty(outcome.size, dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(splitter.split(np.zeros(outcome.size), outcome)):
        fold[test] = k
    return fold


def _figures(
    family: Family,
    params: Mapping[str, Any],
    score: NDArray[np.float64],
    outcome: NDArray[Any],
    fold: NDArray[np.int64],
    calibration: Calibration,
) -> Scored:
    platt = fit_platt(score, outcome) if calibration == "sigmoid" else None
    probability = platt(score) if platt is not None else expit(score)
    probability = np.clip(probability, 1e-15, 1 - 1e-15)
    aucs, losses = [], []
    for k in range(int(fold.max()) + 1):
        rows = fold == k
        aucs.append(roc_auc_score(outcome[rows], probability[rows]))
        losses.append(log_loss(outcome[rows], probability[rows], labels=[0, 1]))
    return Scored(
        family=family,
        params=dict(params),
        auc_mean=float(np.mean(aucs)),
        auc_std=float(np.std(aucs)),
        log_loss_mean=float(np.mean(losses)),
        log_loss_std=float(np.std(losses)),
        oof_score=score,
        oof_probability=probability,
        platt=platt,
    )


def cross_validate(
    encoded: Mapping[bool, NDArray[Any]],
    outcome: NDArray[Any],
    fold: NDArray[np.int64],
    grid: Sequence[Candidate],
    *,
    seed: int,
    calibration: Calibration,
    advance: Callable[[], None] = lambda: None,
) -> list[Scored]:
    """Figures of every candidate and tree count; ``encoded[scaled]`` is the encoded
    matrix of the rows (standardised numbers or not), ``advance`` is called per fit."""
    results: list[Scored] = []
    folds = int(fold.max()) + 1
    for candidate in grid:
        x = encoded[scaled(candidate.family)]
        counts = candidate.trees or (None,)
        oof = np.zeros((len(counts), outcome.size), dtype=np.float64)
        fit_params = candidate.with_trees(max(candidate.trees) if candidate.trees else None)
        for k in range(folds):
            train, test = fold != k, fold == k
            model = fit_classifier(
                candidate.family, fit_params, x[train], outcome[train], seed=seed
            )
            scores = raw_scores(model, x[test], candidate.trees)
            for j, s in enumerate(scores):
                oof[j, test] = s
            advance()
        for j, n in enumerate(counts):
            params = candidate.with_trees(n)
            results.append(_figures(candidate.family, params, oof[j], outcome, fold, calibration))
    return results


def choose(results: Sequence[Scored]) -> Scored:
    """Lowest mean log loss; a tie at four decimals goes to the higher mean AUC."""
    return min(results, key=lambda r: (round(r.log_loss_mean, 4), -r.auc_mean))
