"""``nextbest train``: a response history and a spec in, a served propensity model out.

read spec -> check the spec, the bundle and the history's header at once
(:mod:`.preflight`) -> read history -> choose by cross-validation and refit on every row
(:mod:`.crossfit`; or, with ``holdout:``, fit one family on a seeded stratified split and
evaluate on the rest) -> export to ONNX -> parity gate -> write the model, its metrics,
``models.yaml`` and ``manifest.json`` (see :mod:`nextbest.training.writer`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from nextbest.training.crossfit import crossfit
from nextbest.training.errors import TrainingError
from nextbest.training.evaluate import HoldoutMetrics, evaluate
from nextbest.training.export import OUTPUT_NAME, PARITY_TOLERANCE, check_parity, export_onnx
from nextbest.training.inputs import (
    MIN_CLASS_ROWS,
    Columns,
    check_classes,
    history_warnings,
    outcome_column,
    read_history,
)
from nextbest.training.manifest import ModelEntry, TrainingFact
from nextbest.training.pipeline import build_pipeline, feature_matrix
from nextbest.training.preflight import preflight
from nextbest.training.progress import Progress
from nextbest.training.report import TrainingReport, candidate_line
from nextbest.training.spec import (
    FamilyChoice,
    TrainingSpec,
    load_spec,
)
from nextbest.training.writer import install_model

__all__ = ["MIN_CLASS_ROWS", "TrainingReport", "outcome_column", "train_model"]

UNSEEN = "__nextbest_unseen__"
PARITY_ROWS = 20_000
"""A cross-validated run checks ONNX against scikit-learn on this many of the rows."""


def _with_unseen_rows(columns: Columns, spec: TrainingSpec) -> Columns:
    """The rows plus one row with every value missing and one with every category unseen."""
    extra: Columns = {
        f.name: np.array([np.nan, np.nan], dtype=np.float32)
        if f.kind == "numeric"
        else np.array(["", UNSEEN], dtype=object)
        for f in spec.features
    }
    return {k: np.concatenate([columns[k], extra[k]]) for k in extra}


def _fit(spec: TrainingSpec, train: Columns, outcome: NDArray[np.int8]) -> Pipeline:
    try:
        pipeline = build_pipeline(
            spec.features,
            seed=spec.seed,
            classifier=spec.family,  # type: ignore[arg-type]  # the spec allows gbt, logreg
            calibration=spec.calibration,
            params=spec.params,
        )
        pipeline.fit(feature_matrix(train, spec.features), outcome)
    except ValueError as exc:
        if not spec.params:
            raise
        raise TrainingError(spec.file, "model.params", str(exc)) from exc
    return pipeline


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True, slots=True)
class _Fitted:
    """What either kind of run hands to export and writing."""

    pipeline: Pipeline
    family: str
    metrics: HoldoutMetrics
    parity_rows: Columns
    split: dict[str, Any]
    selection: dict[str, Any] | None
    facts: dict[str, TrainingFact]
    fitted_rows: int
    seconds: float
    candidates: tuple[str, ...]


def _holdout_run(
    spec: TrainingSpec, columns: Columns, outcome: NDArray[np.int8], progress: Progress
) -> _Fitted:
    assert spec.holdout is not None
    rows = int(outcome.size)
    train_ix, test_ix = train_test_split(
        np.arange(rows), test_size=spec.holdout, stratify=outcome, random_state=spec.seed
    )
    train = {k: v[train_ix] for k, v in columns.items()}
    holdout = {k: v[test_ix] for k, v in columns.items()}
    fits = "" if spec.calibration == "none" else f", {spec.calibration} calibration"
    with progress.step(f"training {spec.family}{fits} on {train_ix.size} rows"):
        started = time.perf_counter()
        pipeline = _fit(spec, train, outcome[train_ix])
        seconds = time.perf_counter() - started
    with progress.step("evaluating on the held-out rows"):
        p_accept = pipeline.predict_proba(feature_matrix(holdout, spec.features))[:, 1]
        metrics = evaluate(outcome[test_ix], p_accept)
    return _Fitted(
        pipeline=pipeline,
        family=spec.family,
        metrics=metrics,
        parity_rows=holdout,
        split={
            "holdout_share": spec.holdout,
            "stratified": True,
            "train_rows": int(train_ix.size),
            "holdout_rows": int(test_ix.size),
        },
        selection=None,
        facts={
            "holdout_auc": metrics.roc_auc,
            "holdout_log_loss": metrics.log_loss,
            "holdout_brier": metrics.brier,
        },
        fitted_rows=int(train_ix.size),
        seconds=seconds,
        candidates=(),
    )


def _cross_validated_run(
    spec: TrainingSpec, columns: Columns, outcome: NDArray[np.int8], progress: Progress
) -> _Fitted:
    started = time.perf_counter()
    result = crossfit(
        columns,
        outcome,
        spec.features,
        family=spec.family,
        params=spec.params,
        calibration=spec.calibration,
        folds=spec.folds,
        selection_rows=spec.selection_rows,
        seed=spec.seed,
        progress=progress,
        spec_file=spec.file,
    )
    seconds = time.perf_counter() - started
    rows = int(outcome.size)
    parity_ix = np.sort(
        np.random.default_rng(spec.seed).permutation(rows)[: min(rows, PARITY_ROWS)]
    )
    winner = result.winner
    return _Fitted(
        pipeline=result.pipeline,
        family=winner.family,
        metrics=result.oof,
        parity_rows={k: v[parity_ix] for k, v in columns.items()},
        split={
            "method": "stratified k-fold cross-validation, then refit on all rows",
            "folds": result.folds,
            "selection_rows": result.selection_rows,
            "refit_rows": result.refit_rows,
        },
        selection={
            "chosen": winner.as_dict(),
            "rule": "lowest mean out-of-fold log loss; ties at 4 decimals: higher mean AUC",
            "candidates": [r.as_dict() for r in result.results],
        },
        facts={
            "folds": result.folds,
            "cv_auc": winner.auc_mean,
            "cv_auc_std": winner.auc_std,
            "cv_log_loss": winner.log_loss_mean,
            "cv_log_loss_std": winner.log_loss_std,
            "oof_brier": result.oof.brier,
        },
        fitted_rows=result.refit_rows,
        seconds=seconds,
        candidates=tuple(candidate_line(r, r is winner) for r in result.results),
    )


def train_model(
    data: Path,
    spec_path: Path,
    bundle_dir: Path,
    *,
    seed: int | None = None,
    family: FamilyChoice | None = None,
    progress: Progress | None = None,
) -> TrainingReport:
    """Train the model ``spec_path`` describes on ``data`` and write it into ``bundle_dir``.

    Raises TrainingError (a BundleError, as is the error for a broken bundle) naming the
    file and the column or field; nothing is written then.
    """
    progress = progress or Progress(None)
    spec = load_spec(spec_path)
    if seed is not None:
        spec = dataclasses.replace(spec, seed=seed)
    if family is not None:
        if spec.holdout is not None and family not in ("gbt", "logreg"):
            raise TrainingError(
                spec.file, "holdout", f"a held-out run trains gbt or logreg, not {family}"
            )
        if spec.params and family == "auto":
            raise TrainingError(
                spec.file, "model.params", "--family auto: parameters belong to one family"
            )
        spec = dataclasses.replace(spec, family=family)
    _, catalogue = preflight(spec, bundle_dir, data)

    with progress.step(f"reading {data}"):
        columns, outcome = read_history(data, spec)
        data_sha256 = _sha256(data)
    check_classes(data, spec, outcome)
    warnings = history_warnings(spec, columns, outcome, catalogue)
    rows = int(outcome.size)

    run = (
        _holdout_run(spec, columns, outcome, progress)
        if spec.holdout is not None
        else _cross_validated_run(spec, columns, outcome, progress)
    )
    pipeline = run.pipeline
    with progress.step("exporting to ONNX, checking parity"):
        model = export_onnx(pipeline, spec.features, name=spec.model_id)
        parity_rows = _with_unseen_rows(run.parity_rows, spec)
        delta = check_parity(pipeline, model, parity_rows, spec.features)  # raises first
    checked_rows = len(next(iter(parity_rows.values())))

    model_file = f"models/{spec.model_id}.onnx"
    metrics_file = f"models/{spec.model_id}.metrics.json"
    positive_rate = float(outcome.mean())
    document: dict[str, Any] = {
        "model": spec.model_id,
        "family": run.family,
        "calibration": spec.calibration,
        "seed": spec.seed,
        "data": {
            "file": data.name,
            "sha256": data_sha256,
            "rows": rows,
            "positives": int(outcome.sum()),
            "positive_rate": float(f"{positive_rate:.6g}"),
        },
        "split": run.split,
    }
    if run.selection is not None:
        document["selection"] = run.selection
        document["out_of_fold"] = run.metrics.as_dict()
    else:
        document["holdout"] = run.metrics.as_dict()
    document |= {
        "parity": {
            "rows": checked_rows,
            "max_abs_delta": float(f"{delta:.6g}"),
            "tolerance": PARITY_TOLERANCE,
        },
        "inputs": [{"name": f.name, "source": f.source, "kind": f.kind} for f in spec.features],
        "warnings": list(warnings),
    }
    facts: dict[str, TrainingFact] = {
        "family": run.family,
        "calibration": spec.calibration,
        "seed": spec.seed,
        "rows": rows,
        "positive_rate": positive_rate,
        **run.facts,
        "max_parity_delta": delta,
        "data_sha256": data_sha256,
        "metrics": metrics_file,
    }
    entry = ModelEntry(spec.model_id, model_file, OUTPUT_NAME, spec.features, facts)
    with progress.step(f"writing into {bundle_dir}"):
        install_model(
            bundle_dir,
            entry,
            {model_file: model, metrics_file: (json.dumps(document, indent=2) + "\n").encode()},
        )

    return TrainingReport(
        model_id=spec.model_id,
        family=run.family,
        calibration=spec.calibration,
        seed=spec.seed,
        data=str(data),
        rows=rows,
        train_rows=run.fitted_rows,
        positive_rate=positive_rate,
        holdout=run.metrics,
        cross_validated=run.selection is not None,
        candidates=run.candidates,
        max_parity_delta=delta,
        parity_rows=checked_rows,
        training_seconds=run.seconds,
        onnx_path=bundle_dir / model_file,
        metrics_path=bundle_dir / metrics_file,
        manifest_path=bundle_dir / "models.yaml",
        onnx_bytes=len(model),
        warnings=tuple(warnings),
        pipeline=pipeline,
    )
