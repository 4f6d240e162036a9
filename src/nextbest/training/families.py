"""The model families training chooses from, each with its small default grid.

* ``logreg``: L2-regularised logistic regression on standardised numbers and one-hot
  categories; the grid is the inverse regularisation strength ``C``.
* ``gbt``: scikit-learn's gradient-boosted trees (exact splits); the grid pairs shallow
  trees with small leaves and deeper trees with larger leaves, at learning rate 0.1.
* ``lgbm``: LightGBM's histogram-based boosted trees, the family for large histories
  (one pass over 1,000,000 rows takes seconds, not minutes); same grid idea in leaves.

For the boosted families the number of trees is chosen too, at no extra fit: each fold's
model is fitted with the largest count and scored after each count in ``TREES``.

LightGBM, not scikit-learn's ``HistGradientBoostingClassifier``, is the histogram family
because it converts to ONNX exactly: through onnxmltools (registered with skl2onnx below)
the largest |P_onnx - P_lightgbm| measured over 200,000 rows was 4.1e-7, while skl2onnx
1.20 cannot convert a fitted ``HistGradientBoostingClassifier`` with onnx 1.23 at all
(``TypeError: AttributeProto.ints: expected an int, got a boolean`` from its
``missing_go_to_left`` flags).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

__all__ = [
    "FAMILIES",
    "GBT_MAX_ROWS",
    "LGBM_THREADS",
    "TREES",
    "Candidate",
    "Family",
    "candidates",
    "fit_classifier",
    "raw_scores",
    "scaled",
]

Family = Literal["logreg", "gbt", "lgbm"]
FAMILIES: tuple[Family, ...] = ("logreg", "gbt", "lgbm")
TREES = (50, 100, 200, 400)
GBT_MAX_ROWS = 30_000
"""``family: auto`` leaves exact-split ``gbt`` out above this many rows (its fits grow
with rows x features x trees); ``lgbm`` is the boosted family there."""
LGBM_THREADS = 1
"""Fixed, not the machine's core count, so that the same run gives the same trees; one,
because OpenMP threads that wait for a busy core spin: with 2 threads on 2 shared cores a
fit took 69 s, with 1 thread 5.6 s (40,000 rows x 150 columns, 400 trees)."""

_GRIDS: dict[Family, tuple[dict[str, Any], ...]] = {
    "logreg": ({"C": 0.1}, {"C": 1.0}, {"C": 10.0}),
    "gbt": (
        {"max_depth": 2, "min_samples_leaf": 20},
        {"max_depth": 4, "min_samples_leaf": 100},
    ),
    "lgbm": (
        {"num_leaves": 7, "min_child_samples": 20},
        {"num_leaves": 31, "min_child_samples": 100},
    ),
}
_TREE_PARAM: dict[Family, str] = {"gbt": "n_estimators", "lgbm": "n_estimators"}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One point of a family's grid; ``trees`` are the tree counts scored for it (empty
    for a family without trees)."""

    family: Family
    params: Mapping[str, Any]
    trees: tuple[int, ...] = field(default=())

    def with_trees(self, n: int | None) -> dict[str, Any]:
        """The classifier parameters, with ``n`` trees where the family has trees."""
        params = dict(self.params)
        if n is not None and self.family in _TREE_PARAM:
            params[_TREE_PARAM[self.family]] = n
        return params


def scaled(family: Family) -> bool:
    """Whether the family wants standardised numbers (the linear one does)."""
    return family == "logreg"


def candidates(family: Family, overrides: Mapping[str, Any] | None = None) -> list[Candidate]:
    """The grid of ``family``; ``overrides`` (the spec's ``model.params``) fix parameters,
    a fixed tree count included."""
    overrides = dict(overrides or {})
    tree_param = _TREE_PARAM.get(family)
    trees: tuple[int, ...] = ()
    if tree_param is not None:
        fixed = overrides.pop(tree_param, None)
        trees = (int(fixed),) if fixed is not None else TREES
    out: list[Candidate] = []
    for point in _GRIDS[family]:
        params = {**point, **overrides}
        if all(c.params != params for c in out):
            out.append(Candidate(family, params, trees))
    return out


def _lightgbm() -> Any:
    from lightgbm import LGBMClassifier  # imported when used

    from nextbest.training._lightgbm import register_lightgbm

    register_lightgbm()
    return LGBMClassifier


def build_classifier(family: Family, params: Mapping[str, Any], *, seed: int) -> Any:
    """An unfitted classifier; ValueError names an unknown parameter."""
    model: Any
    if family == "logreg":
        model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    elif family == "gbt":
        model = GradientBoostingClassifier(
            n_estimators=max(TREES), learning_rate=0.1, subsample=0.8, random_state=seed
        )
    else:
        model = _lightgbm()(
            n_estimators=max(TREES),
            learning_rate=0.1,
            random_state=seed,
            deterministic=True,
            force_col_wise=True,
            n_jobs=LGBM_THREADS,
            verbose=-1,
        )
    valid = model.get_params()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"unknown parameters for {family}: {unknown}")
    model.set_params(**params)
    return model


def fit_classifier(
    family: Family, params: Mapping[str, Any], x: NDArray[Any], y: NDArray[Any], *, seed: int
) -> Any:
    """A fitted classifier of ``family`` on the encoded matrix ``x``."""
    model = build_classifier(family, params, seed=seed)
    model.fit(x, y)
    return model


def raw_scores(model: Any, x: NDArray[Any], trees: Sequence[int]) -> list[NDArray[np.float64]]:
    """The log-odds score calibration works on, after each tree count in ``trees`` (one
    score for a family without trees)."""
    if isinstance(model, LogisticRegression):
        return [np.asarray(model.decision_function(x), dtype=np.float64)]
    if isinstance(model, GradientBoostingClassifier):
        wanted = set(trees)
        return [
            np.asarray(s, dtype=np.float64).ravel()
            for k, s in enumerate(model.staged_decision_function(x), start=1)
            if k in wanted
        ]
    return [
        np.asarray(model.predict(x, raw_score=True, num_iteration=k), dtype=np.float64)
        for k in trees
    ]
