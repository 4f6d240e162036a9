"""What a training run produced and how good it is, as the command prints it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sklearn.pipeline import Pipeline

from nextbest.training.evaluate import HoldoutMetrics
from nextbest.training.export import PARITY_TOLERANCE
from nextbest.training.selection import Scored

__all__ = ["TrainingReport", "candidate_line"]


@dataclass(frozen=True, slots=True)
class TrainingReport:
    """What a training run produced and how good it is."""

    model_id: str
    family: str
    calibration: str
    seed: int
    data: str
    rows: int
    train_rows: int
    positive_rate: float
    holdout: HoldoutMetrics
    """Out-of-fold figures of the chosen model (``cross_validated``), else held-out ones."""
    cross_validated: bool
    candidates: tuple[str, ...]
    max_parity_delta: float
    parity_rows: int
    training_seconds: float
    onnx_path: Path
    metrics_path: Path
    manifest_path: Path
    onnx_bytes: int
    warnings: tuple[str, ...]
    pipeline: Pipeline
    """The fitted scikit-learn pipeline the ONNX file was exported from."""

    def lines(self) -> list[str]:
        """The readable report."""
        return [
            f"model              {self.model_id}: {self.family}, calibration "
            f"{self.calibration}, seed {self.seed}",
            f"history            {self.data}: {self.rows} rows, {self.positive_rate:.2%} accepted",
            *(
                ["cross-validated    (* = chosen)", *(f"  {c}" for c in self.candidates)]
                if self.candidates
                else []
            ),
            f"trained on         {self.train_rows} rows in {self.training_seconds:.1f} s",
            *self.holdout.lines("out-of-fold rows" if self.cross_validated else "held-out rows"),
            f"ONNX parity        max |dp| {self.max_parity_delta:.2g} over {self.parity_rows} "
            f"rows (gate {PARITY_TOLERANCE:g})",
            f"written            {self.onnx_path} ({self.onnx_bytes} bytes)",
            f"                   {self.metrics_path}",
            f"                   {self.manifest_path} and manifest.json",
            *(f"warning: {w}" for w in self.warnings),
        ]


def candidate_line(r: Scored, chosen: bool) -> str:
    mark = "*" if chosen else " "
    return (
        f"{mark} {r.label():<52} AUC {r.auc_mean:.4f} ± {r.auc_std:.4f}  "
        f"log loss {r.log_loss_mean:.4f} ± {r.log_loss_std:.4f}"
    )
