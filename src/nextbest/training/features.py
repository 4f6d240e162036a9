"""The model features: what each ONNX input is called and where its value comes from.

``source`` is a dotted path into a decision request (``customer.*``, ``context.*``)
or into the offer being scored (``offer.*``). The order of the features is the order
of the ONNX inputs and of the ``inputs`` list in ``models.yaml``; a training spec
(:mod:`nextbest.training.spec`) says which they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FeatureKind", "FeatureSpec"]

FeatureKind = Literal["numeric", "categorical"]


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One model input: a float32 (numeric) or string (categorical) column of shape [N, 1]."""

    name: str
    source: str
    kind: FeatureKind
