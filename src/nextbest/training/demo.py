"""Train the demo bundle's propensity model and write ``models/propensity.onnx`` and
``models.yaml`` into the bundle directory.

    python -m nextbest.training.demo --bundle models/demo-energy

Reproducible: the same bundle files, seed and row count give byte-identical outputs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from nextbest.training.catalogue import load_catalogue
from nextbest.training.export import OUTPUT_NAME, check_parity, export_onnx
from nextbest.training.features import DEMO_FEATURES
from nextbest.training.manifest import ModelEntry, TrainingSummary, render_manifest
from nextbest.training.pipeline import build_pipeline, feature_matrix
from nextbest.training.synthetic import generate_demo_history

__all__ = ["DEFAULT_ROWS", "DEFAULT_SEED", "DemoTrainingReport", "build_demo_models", "main"]

DEFAULT_SEED = 20261123
DEFAULT_ROWS = 60_000
MODEL_ID = "propensity"
MODEL_FILE = "models/propensity.onnx"
MANIFEST_FILE = "models.yaml"
HOLDOUT_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class DemoTrainingReport:
    """What a training run produced and how good it is."""

    rows: int
    positive_rate: float
    holdout_auc: float
    holdout_log_loss: float
    max_parity_delta: float
    training_seconds: float
    onnx_path: Path
    manifest_path: Path
    onnx_bytes: int

    def lines(self) -> list[str]:
        """Human-readable report lines."""
        return [
            f"rows              {self.rows}",
            f"positive rate     {self.positive_rate:.4f}",
            f"held-out ROC AUC  {self.holdout_auc:.4f}",
            f"held-out log loss {self.holdout_log_loss:.4f}",
            f"max parity delta  {self.max_parity_delta:.3g}",
            f"training seconds  {self.training_seconds:.1f}",
            f"onnx              {self.onnx_path} ({self.onnx_bytes} bytes)",
            f"manifest          {self.manifest_path}",
        ]


def _rows(columns: Mapping[str, NDArray[Any]], index: NDArray[np.int64]) -> dict[str, NDArray[Any]]:
    return {name: col[index] for name, col in columns.items()}


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        Path(tmp).chmod(0o644)  # mkstemp makes 0600; shipped bundle files must be readable
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_demo_models(
    bundle_dir: Path, *, seed: int = DEFAULT_SEED, n_rows: int = DEFAULT_ROWS
) -> DemoTrainingReport:
    """Generate the demo history, train, check ONNX parity, write the model and manifest."""
    offers, vocabulary = load_catalogue(bundle_dir)
    history = generate_demo_history(offers, vocabulary, n_rows, seed)
    accepted = history["accepted"]
    train_ix, test_ix = train_test_split(
        np.arange(n_rows), test_size=HOLDOUT_SHARE, stratify=accepted, random_state=seed
    )
    train, holdout = _rows(history, train_ix), _rows(history, test_ix)

    pipeline = build_pipeline(DEMO_FEATURES, seed=seed)
    started = time.perf_counter()
    pipeline.fit(feature_matrix(train, DEMO_FEATURES), train["accepted"])
    training_seconds = time.perf_counter() - started

    p_accept = pipeline.predict_proba(feature_matrix(holdout, DEMO_FEATURES))[:, 1]
    auc = float(roc_auc_score(holdout["accepted"], p_accept))
    loss = float(log_loss(holdout["accepted"], p_accept))
    model = export_onnx(pipeline, DEMO_FEATURES, name=MODEL_ID)
    delta = check_parity(pipeline, model, holdout, DEMO_FEATURES)  # raises before writing

    summary = TrainingSummary(
        seed=seed,
        rows=n_rows,
        positive_rate=float(np.mean(accepted)),
        holdout_auc=auc,
        holdout_log_loss=loss,
        max_parity_delta=delta,
    )
    manifest = render_manifest(
        [ModelEntry(MODEL_ID, MODEL_FILE, OUTPUT_NAME, DEMO_FEATURES, summary)]
    )
    onnx_path, manifest_path = bundle_dir / MODEL_FILE, bundle_dir / MANIFEST_FILE
    _write_atomically(onnx_path, model)
    _write_atomically(manifest_path, manifest.encode("utf-8"))
    return DemoTrainingReport(
        rows=n_rows,
        positive_rate=summary.positive_rate,
        holdout_auc=auc,
        holdout_log_loss=loss,
        max_parity_delta=delta,
        training_seconds=training_seconds,
        onnx_path=onnx_path,
        manifest_path=manifest_path,
        onnx_bytes=len(model),
    )


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m nextbest.training.demo --bundle DIR [--seed N] [--rows N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m nextbest.training.demo",
        description="Train the demo bundle's propensity model (ONNX) and write models.yaml.",
    )
    parser.add_argument("--bundle", type=Path, required=True, help="bundle directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    args = parser.parse_args(argv)
    report = build_demo_models(args.bundle, seed=args.seed, n_rows=args.rows)
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
