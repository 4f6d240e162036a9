"""The model manifest ``models.yaml``: which ONNX file, which output, and how each
ONNX input is taken from a decision request.

Written as fixed-format text (no timestamps, floats rounded to 6 significant
digits) so that identical training runs give byte-identical files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from nextbest.training.features import FeatureSpec

__all__ = ["ModelEntry", "TrainingSummary", "format_float", "render_manifest"]

_HEADER = "# Written by nextbest training; do not edit by hand.\n"


@dataclass(frozen=True, slots=True)
class TrainingSummary:
    """The reproducible facts about a training run recorded in the manifest."""

    seed: int
    rows: int
    positive_rate: float
    holdout_auc: float
    holdout_log_loss: float
    max_parity_delta: float


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model of the manifest; ``file`` is relative to the bundle directory."""

    id: str
    file: str
    output: str
    inputs: Sequence[FeatureSpec]
    training: TrainingSummary


def format_float(value: float) -> str:
    """6 significant digits, spelled so that YAML 1.1 (PyYAML) reads a float back."""
    if not math.isfinite(value):
        raise ValueError(f"cannot record a non-finite value {value!r}")
    text = f"{value:.6g}"
    mantissa, sep, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + sep + exponent


def render_manifest(models: Sequence[ModelEntry]) -> str:
    """The text of ``models.yaml``."""
    lines = [_HEADER.rstrip("\n"), "models:"]
    for m in models:
        t = m.training
        lines += [
            f"  - id: {m.id}",
            f"    file: {m.file}",
            f"    output: {m.output}        # ONNX output name; column 1 = P(accept)",
            "    inputs:",
            *(f"      - {{name: {f.name}, source: {f.source}, kind: {f.kind}}}" for f in m.inputs),
            "    training:",
            f"      seed: {t.seed}",
            f"      rows: {t.rows}",
            f"      positive_rate: {format_float(t.positive_rate)}",
            f"      holdout_auc: {format_float(t.holdout_auc)}",
            f"      holdout_log_loss: {format_float(t.holdout_log_loss)}",
            f"      max_parity_delta: {format_float(t.max_parity_delta)}",
        ]
    return "\n".join(lines) + "\n"
