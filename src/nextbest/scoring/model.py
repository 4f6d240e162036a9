"""A propensity model ready to score every offer it covers for one request, in one call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

__all__ = ["ModelInput", "PropensityModel"]

Facts = Mapping[str, object]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ModelInput:
    name: str
    source: str
    kind: Literal["numeric", "categorical"]


def _numeric(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    return float(value)


def _categorical(value: object) -> str:
    return value if isinstance(value, str) else ""


def encode(kind: Literal["numeric", "categorical"], value: object) -> float | str:
    """The value a model sees for a raw fact: missing or mistyped numbers become NaN
    (imputed inside the graph), missing categories the empty string (an unseen level)."""
    return _numeric(value) if kind == "numeric" else _categorical(value)


class PropensityModel:
    """Scores the offers `offer_indices` (catalogue order) with one ONNX session run.

    Columns that come from the offer are built once here; a request only fills the
    customer and context columns.
    """

    def __init__(
        self,
        model_id: str,
        session: ort.InferenceSession,
        inputs: Sequence[ModelInput],
        output: str,
        offer_indices: Sequence[int],
        offer_facts: Sequence[Facts],
    ) -> None:
        self.id = model_id
        self.inputs = tuple(inputs)
        self.offer_indices = np.asarray(offer_indices, dtype=np.intp)
        self._session = session
        self._output = [output]
        rows = len(offer_indices)
        self._rows = rows
        self._fixed: dict[str, npt.NDArray[Any]] = {}
        self._per_request: list[tuple[str, Literal["numeric", "categorical"], str]] = []
        for model_input in self.inputs:
            if model_input.source.startswith("offer."):
                column = [encode(model_input.kind, f.get(model_input.source)) for f in offer_facts]
                self._fixed[model_input.name] = self._column(model_input.kind, column)
            else:
                self._per_request.append((model_input.name, model_input.kind, model_input.source))

    @staticmethod
    def _column(kind: Literal["numeric", "categorical"], values: list[Any]) -> npt.NDArray[Any]:
        dtype = np.float32 if kind == "numeric" else np.object_
        return np.asarray(values, dtype=dtype).reshape(-1, 1)

    def score(self, facts: Facts) -> FloatArray:
        """P(accept) for each covered offer, in `offer_indices` order."""
        feed: dict[str, npt.NDArray[Any]] = dict(self._fixed)
        rows = self._rows
        for name, kind, source in self._per_request:
            value = facts.get(source)
            if kind == "numeric":
                feed[name] = np.full((rows, 1), _numeric(value), dtype=np.float32)
            else:
                feed[name] = np.full((rows, 1), _categorical(value), dtype=np.object_)
        probabilities = self._session.run(self._output, feed)[0]
        return np.asarray(probabilities[:, 1], dtype=np.float64)
