"""Held-out evaluation of a propensity model: ranking quality, probability quality, and
what the top of the ranking is worth.

* ``roc_auc``: how well the model orders acceptors above the others (0.5 = chance);
* ``log_loss`` and ``brier``: how close the probabilities are to the outcomes (lower is
  better);
* ``calibration``: the held-out rows in ten equal groups by predicted propensity, with
  the mean prediction beside the observed acceptance rate (equal when calibrated);
* ``top``: precision (acceptance rate) among the 10 % and 20 % of rows the model ranks
  highest, and lift = that precision / the overall rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

__all__ = ["CalibrationBin", "HoldoutMetrics", "TopShare", "evaluate"]

TOP_SHARES = (0.1, 0.2)
DECILES = 10


def _round(value: float) -> float:
    return float(f"{value:.6g}")


@dataclass(frozen=True, slots=True)
class CalibrationBin:
    decile: int
    rows: int
    mean_propensity: float
    observed_rate: float


@dataclass(frozen=True, slots=True)
class TopShare:
    share: float
    rows: int
    precision: float
    lift: float


@dataclass(frozen=True, slots=True)
class HoldoutMetrics:
    rows: int
    positives: int
    positive_rate: float
    mean_propensity: float
    roc_auc: float
    log_loss: float
    brier: float
    calibration: tuple[CalibrationBin, ...]
    top: tuple[TopShare, ...]

    def as_dict(self) -> dict[str, Any]:
        """For the metrics JSON; floats rounded to 6 significant digits."""
        return {
            "rows": self.rows,
            "positives": self.positives,
            "positive_rate": _round(self.positive_rate),
            "mean_propensity": _round(self.mean_propensity),
            "roc_auc": _round(self.roc_auc),
            "log_loss": _round(self.log_loss),
            "brier": _round(self.brier),
            "calibration": [
                {
                    "decile": b.decile,
                    "rows": b.rows,
                    "mean_propensity": _round(b.mean_propensity),
                    "observed_rate": _round(b.observed_rate),
                }
                for b in self.calibration
            ],
            "top": [
                {
                    "share": t.share,
                    "rows": t.rows,
                    "precision": _round(t.precision),
                    "lift": _round(t.lift),
                }
                for t in self.top
            ],
        }

    def lines(self, title: str = "held-out rows") -> list[str]:
        """A short table for a person."""
        out = [
            f"{title:<19}{self.rows} ({self.positives} accepted, {self.positive_rate:.2%})",
            f"ROC AUC            {self.roc_auc:.4f}",
            f"log loss           {self.log_loss:.4f}",
            f"Brier score        {self.brier:.5f}",
        ]
        out += [
            f"{f'top {t.share:.0%} precision':<19}{t.precision:.2%}  lift {t.lift:.2f}"
            for t in self.top
        ]
        out.append("calibration        decile  rows  predicted  observed")
        out += [
            f"                   {b.decile:>6}  {b.rows:>4}  {b.mean_propensity:>9.2%}  "
            f"{b.observed_rate:>8.2%}"
            for b in self.calibration
        ]
        return out


def evaluate(outcome: NDArray[Any], propensity: NDArray[np.float64]) -> HoldoutMetrics:
    """Metrics of ``propensity`` (P(accept)) against the 0/1 ``outcome`` of held-out rows."""
    y = np.asarray(outcome, dtype=np.int64)
    p = np.asarray(propensity, dtype=np.float64)
    rate = float(y.mean())
    ascending = np.argsort(p, kind="stable")
    calibration = tuple(
        CalibrationBin(
            decile=i + 1,
            rows=int(rows.size),
            mean_propensity=float(p[rows].mean()) if rows.size else 0.0,
            observed_rate=float(y[rows].mean()) if rows.size else 0.0,
        )
        for i, rows in enumerate(np.array_split(ascending, DECILES))
    )
    descending = ascending[::-1]
    top = []
    for share in TOP_SHARES:
        k = max(1, math.ceil(share * y.size))
        precision = float(y[descending[:k]].mean())
        top.append(TopShare(share, k, precision, precision / rate if rate else 0.0))
    return HoldoutMetrics(
        rows=int(y.size),
        positives=int(y.sum()),
        positive_rate=rate,
        mean_propensity=float(p.mean()),
        roc_auc=float(roc_auc_score(y, p)),
        log_loss=float(log_loss(y, p, labels=[0, 1])),
        brier=float(brier_score_loss(y, p)),
        calibration=calibration,
        top=tuple(top),
    )
