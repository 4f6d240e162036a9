"""The model manifest ``models.yaml``: which ONNX file, which output, and how each
ONNX input is taken from a decision request, plus the facts of the training run.

Written as fixed-format text (no timestamps, floats rounded to 6 significant
digits) so that identical training runs give byte-identical files. Training one
model rewrites its entry and keeps the bundle's other models as they are.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nextbest.bundle._schema import ModelsFile
from nextbest.training.features import FeatureSpec

__all__ = ["ModelEntry", "TrainingFact", "format_float", "merge_entry", "render_manifest"]

_HEADER = "# Written by nextbest training; do not edit by hand.\n"
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
# Plain words that YAML 1.1 (PyYAML) reads as booleans or null.
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})

TrainingFact = float | int | str


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model of the manifest; ``file`` is relative to the bundle directory."""

    id: str
    file: str
    output: str
    inputs: Sequence[FeatureSpec]
    training: Mapping[str, TrainingFact]


def format_float(value: float) -> str:
    """6 significant digits, spelled so that YAML 1.1 (PyYAML) reads a float back."""
    if not math.isfinite(value):
        raise ValueError(f"cannot record a non-finite value {value!r}")
    text = f"{value:.6g}"
    mantissa, sep, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + sep + exponent


def _text(value: str) -> str:
    """A YAML scalar that reads back as the string ``value``."""
    if _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value)


def _fact(value: TrainingFact) -> str:
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, int):
        return str(value)
    return _text(value)


def merge_entry(existing: ModelsFile, entry: ModelEntry) -> list[ModelEntry]:
    """The bundle's models with ``entry`` in place of the model of the same id (or last)."""
    entries = [
        ModelEntry(
            m.id,
            m.file,
            m.output,
            [FeatureSpec(i.name, i.source, i.kind) for i in m.inputs],
            dict(m.training),
        )
        for m in existing.models
        if m.id != entry.id
    ]
    position = next((k for k, m in enumerate(existing.models) if m.id == entry.id), len(entries))
    entries.insert(position, entry)
    return entries


def render_manifest(models: Sequence[ModelEntry]) -> str:
    """The text of ``models.yaml``."""
    lines = [_HEADER.rstrip("\n"), "models:"]
    for m in models:
        lines += [
            f"  - id: {m.id}",
            f"    file: {_text(m.file)}",
            f"    output: {_text(m.output)}        # ONNX output name; column 1 = P(accept)",
            "    inputs:",
            *(
                f"      - {{name: {_text(f.name)}, source: {_text(f.source)}, kind: {f.kind}}}"
                for f in m.inputs
            ),
        ]
        if m.training:
            lines.append("    training:")
            lines += [f"      {key}: {_fact(value)}" for key, value in m.training.items()]
    return "\n".join(lines) + "\n"
