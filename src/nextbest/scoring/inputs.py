"""A model's inputs: where each comes from, and the value the model sees for a raw fact."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["Facts", "IndexArray", "ModelInput", "category_value", "encode", "numeric_value"]

Facts = Mapping[str, object]
IndexArray = npt.NDArray[np.intp]
"""Offer positions (a model's covered offers, or a catalogue's offers)."""


@dataclass(frozen=True, slots=True)
class ModelInput:
    name: str
    source: str
    kind: Literal["numeric", "categorical"]


def numeric_value(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    return float(value)


def category_value(value: object) -> str:
    return value if isinstance(value, str) else ""


def encode(kind: Literal["numeric", "categorical"], value: object) -> float | str:
    """The value a model sees for a raw fact: missing or mistyped numbers become NaN
    (imputed inside the graph), missing categories the empty string (an unseen level)."""
    return numeric_value(value) if kind == "numeric" else category_value(value)
