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

from nextbest.bundle._schema import OfferSpec
from nextbest.training.crossfit import crossfit
from nextbest.training.errors import TrainingError
from nextbest.training.evaluate import HoldoutMetrics, evaluate
from nextbest.training.export import OUTPUT_NAME, PARITY_TOLERANCE, check_parity, export_onnx
from nextbest.training.history import (
    RawTable,
    categorical_column,
    numeric_column,
    read_table,
    text_column,
)
from nextbest.training.manifest import ModelEntry, TrainingFact
from nextbest.training.pipeline import build_pipeline, feature_matrix
from nextbest.training.preflight import preflight
from nextbest.training.progress import Progress
from nextbest.training.selection import Scored
from nextbest.training.spec import (
    FamilyChoice,
    TrainingSpec,
    input_name,
    label_of,
    load_spec,
)
from nextbest.training.writer import install_model

__all__ = ["MIN_CLASS_ROWS", "TrainingReport", "outcome_column", "train_model"]

MIN_CLASS_ROWS = 10
"""Fewer accepted (or declined) rows than this cannot be split, calibrated and evaluated."""
MANY_CATEGORIES = 1000
UNSEEN = "__nextbest_unseen__"
PARITY_ROWS = 20_000
"""A cross-validated run checks ONNX against scikit-learn on this many of the rows."""

Columns = dict[str, NDArray[Any]]


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


def outcome_column(table: RawTable, spec: TrainingSpec) -> NDArray[np.int8]:
    """The outcome as 0/1; an error names values neither positive nor negative."""
    text = text_column(table, spec.outcome)
    values, inverse = np.unique(text, return_inverse=True)
    labels = [label_of(v) for v in values]
    codes = np.array(
        [1 if lab in spec.positive else 0 if lab in spec.negative else -1 for lab in labels],
        dtype=np.int8,
    )
    unknown = [str(v) for v, c in zip(values, codes, strict=True) if c < 0]
    if unknown:
        first = int(np.flatnonzero(codes[inverse] < 0)[0]) + 1
        raise TrainingError(
            table.file,
            f"column {spec.outcome!r}",
            f"the outcome is not binary: values {unknown[:5]!r} (first in data row {first}) "
            f"are neither positive {sorted(spec.positive)} nor negative "
            f"{sorted(spec.negative)}; map them with outcome.positive / outcome.negative "
            f"in {spec.file}",
        )
    outcome: NDArray[np.int8] = codes[inverse]
    return outcome


def _read(data: Path, spec: TrainingSpec) -> tuple[Columns, NDArray[np.int8]]:
    table = read_table(data, {c: spec.fields[c] for c in spec.columns})
    column_of = spec.column_of
    columns: Columns = {
        f.name: numeric_column(table, column_of[f.name], spec.fields[column_of[f.name]])
        if f.kind == "numeric"
        else categorical_column(table, column_of[f.name])
        for f in spec.features
    }
    outcome = outcome_column(table, spec)
    if spec.offer_column is not None:
        offers = columns[input_name(spec.offer_column)]
        blank = np.flatnonzero(offers == "")
        if blank.size:
            raise TrainingError(
                table.file,
                f"column {spec.offer_column!r}",
                f"data row {int(blank[0]) + 1} names no offer",
            )
        if spec.offer_id is not None:
            keep = offers == spec.offer_id
            if not keep.any():
                raise TrainingError(
                    table.file,
                    f"column {spec.offer_column!r}",
                    f"no row presents offer {spec.offer_id!r} (offer.id in {spec.file})",
                )
            columns = {k: v[keep] for k, v in columns.items()}
            outcome = outcome[keep]
    return columns, outcome


def _check_classes(data: Path, spec: TrainingSpec, outcome: NDArray[np.int8]) -> None:
    positives = int(outcome.sum())
    negatives = int(outcome.size - positives)
    where = f"column {spec.outcome!r}"
    for count, name, values in (
        (positives, "positive", spec.positive),
        (negatives, "negative", spec.negative),
    ):
        if count == 0:
            raise TrainingError(
                str(data),
                where,
                f"no {name} outcomes in {outcome.size} rows (values counted {name}: "
                f"{sorted(values)}; set outcome.{name} in {spec.file} if yours differ)",
            )
        if count < MIN_CLASS_ROWS:
            raise TrainingError(
                str(data),
                where,
                f"only {count} {name} outcomes; at least {MIN_CLASS_ROWS} are needed to "
                "train, calibrate and hold out",
            )


def _offer_facts(o: OfferSpec) -> dict[str, object]:
    return {
        "offer.id": o.id,
        "offer.category": o.category,
        "offer.product": o.product or "",
        "offer.value": o.value,
        "offer.lever": o.lever,
    }


def _warnings(
    spec: TrainingSpec, columns: Columns, outcome: NDArray[np.int8], catalogue: list[OfferSpec]
) -> list[str]:
    notes: list[str] = []
    by_id = {o.id: o for o in catalogue}
    scored = sorted(o.id for o in catalogue if o.model == spec.model_id)
    if not scored:
        notes.append(f"no offer in offers.yaml has `model: {spec.model_id}`; nothing uses it yet")
    if spec.offer_column is not None and spec.offer_id is None:
        offers = columns[input_name(spec.offer_column)]
        seen = set(np.unique(offers).tolist())
        if seen - set(by_id):
            notes.append(
                f"offers in the history but not in offers.yaml (learnt from, never served): "
                f"{sorted(seen - set(by_id))}"
            )
        if set(scored) - seen:
            notes.append(
                f"offers with `model: {spec.model_id}` absent from the history (scored as an "
                f"unseen offer): {sorted(set(scored) - seen)}"
            )
        never = sorted(o for o in seen if not outcome[offers == o].any())
        if never:
            notes.append(f"offers never accepted in the history: {never}")
        for f in spec.features:
            if not f.source.startswith("offer.") or f.source == "offer.id":
                continue
            differ = sorted(
                o
                for o in seen & set(by_id)
                if np.any(
                    columns[f.name][offers == o]
                    != np.asarray(_offer_facts(by_id[o]).get(f.source), dtype=columns[f.name].dtype)
                )
            )
            if differ:
                notes.append(
                    f"column {spec.column_of[f.name]!r} differs from offers.yaml's {f.source} "
                    f"for {differ}; "
                    "serving feeds the catalogue's value"
                )
    elif spec.offer_id is not None and set(scored) - {spec.offer_id}:
        notes.append(
            f"model {spec.model_id!r} is trained for offer {spec.offer_id!r} only, but "
            f"{sorted(set(scored) - {spec.offer_id})} also use it and get the same propensity"
        )
    for f in spec.features:
        if f.kind == "categorical":
            levels = np.unique(columns[f.name]).size
            if levels > MANY_CATEGORIES:
                notes.append(
                    f"column {spec.column_of[f.name]!r} has {levels} distinct values: each "
                    "becomes a one-hot "
                    "input; group rare ones before training"
                )
    return notes


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
        candidates=tuple(_candidate_line(r, r is winner) for r in result.results),
    )


def _candidate_line(r: Scored, chosen: bool) -> str:
    mark = "*" if chosen else " "
    return (
        f"{mark} {r.label():<52} AUC {r.auc_mean:.4f} ± {r.auc_std:.4f}  "
        f"log loss {r.log_loss_mean:.4f} ± {r.log_loss_std:.4f}"
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
        columns, outcome = _read(data, spec)
        data_sha256 = _sha256(data)
    _check_classes(data, spec, outcome)
    warnings = _warnings(spec, columns, outcome, catalogue)
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
