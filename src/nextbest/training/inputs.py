"""The history as training reads it: the columns the spec names, the outcome, the checks
that need the data (enough of each outcome), and the warnings a run prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nextbest.bundle._schema import OfferSpec
from nextbest.bundle.offers import offer_facts
from nextbest.scoring.inputs import encode
from nextbest.training.errors import TrainingError
from nextbest.training.history import (
    RawTable,
    categorical_column,
    numeric_column,
    read_table,
    text_column,
)
from nextbest.training.spec import TrainingSpec, input_name, label_of

__all__ = [
    "MANY_CATEGORIES",
    "MIN_CLASS_ROWS",
    "Columns",
    "check_classes",
    "history_warnings",
    "outcome_column",
    "read_history",
]

MIN_CLASS_ROWS = 10
"""Fewer accepted (or declined) rows than this cannot be split, calibrated and evaluated."""
MANY_CATEGORIES = 1000

Columns = dict[str, NDArray[Any]]


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


def read_history(data: Path, spec: TrainingSpec) -> tuple[Columns, NDArray[np.int8]]:
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


def check_classes(data: Path, spec: TrainingSpec, outcome: NDArray[np.int8]) -> None:
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


def history_warnings(
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
                    != np.asarray(
                        encode(f.kind, offer_facts(by_id[o]).get(f.source)),
                        dtype=columns[f.name].dtype,
                    )
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
