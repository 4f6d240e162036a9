"""Platt scaling fitted on out-of-fold scores, attached to the model refitted on all rows.

Cross-validation already scored every row with a model that did not see it; the sigmoid
is fitted on those scores, so no row is set aside for calibration and the classifier is
fitted once more only (on all rows). The result is a scikit-learn
:class:`~sklearn.calibration.CalibratedClassifierCV` over the refitted classifier, the
object skl2onnx converts: it is built with a frozen classifier on a few rows, then its one
sigmoid is refitted on the out-of-fold scores and the classifier unwrapped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

__all__ = ["PlattScale", "attach_calibration", "fit_platt"]


class PlattScale:
    """P = 1 / (1 + exp(a * score + b)), as scikit-learn writes its sigmoid."""

    def __init__(self, a: float, b: float) -> None:
        self.a = a
        self.b = b

    def __call__(self, score: NDArray[np.float64]) -> NDArray[np.float64]:
        p: NDArray[np.float64] = expit(-(self.a * score + self.b))
        return p


def fit_platt(scores: NDArray[np.float64], outcome: NDArray[Any]) -> PlattScale:
    """scikit-learn's sigmoid (Platt's prior-corrected targets) fitted on out-of-fold
    ``scores`` against the 0/1 ``outcome``."""
    probe = CalibratedClassifierCV(FrozenEstimator(_Identity()), method="sigmoid", cv=2)
    probe.fit(np.asarray(scores, dtype=np.float64).reshape(-1, 1), np.asarray(outcome))
    (sigmoid,) = probe.calibrated_classifiers_[0].calibrators
    return PlattScale(float(sigmoid.a_), float(sigmoid.b_))


def attach_calibration(
    model: Any, platt: PlattScale, x: NDArray[Any], y: NDArray[Any]
) -> CalibratedClassifierCV:
    """``model`` (fitted) followed by ``platt``; ``x``, ``y``: a few encoded rows of both
    classes, only to give the wrapper its fitted structure."""
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method="sigmoid", cv=2)
    calibrated.fit(x, y)
    (only,) = calibrated.calibrated_classifiers_
    only.estimator = model
    (sigmoid,) = only.calibrators
    sigmoid.a_, sigmoid.b_ = platt.a, platt.b
    return calibrated


class _Identity(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A fitted two-class classifier whose decision function is its one input column."""

    classes_ = np.array([0, 1])

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, x: Any, y: Any) -> _Identity:  # noqa: ARG002  # already "fitted"
        return self

    def decision_function(self, x: NDArray[Any]) -> NDArray[np.float64]:
        return np.asarray(x, dtype=np.float64)[:, 0]

    def predict(self, x: NDArray[Any]) -> NDArray[np.int64]:
        return (self.decision_function(x) > 0).astype(np.int64)
