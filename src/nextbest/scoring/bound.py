"""Scoring runs on buffers bound to the session once (onnxruntime's io_binding).

For each batch size a thread scores, the input and output buffers are allocated and
bound once; a run then writes the request's values (numbers, category codes) into them
and runs. The offer columns are filled at construction and never written again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from nextbest.scoring.inputs import Facts, ModelInput, category_value, numeric_value
from nextbest.scoring.recode import UNKNOWN_LEVEL

__all__ = ["BoundRuns"]

_CACHED_BATCH_SIZES = 64
"""Batch sizes up to this keep their buffers (the batcher's limit is 16)."""

_OUTPUT_DTYPES: dict[str, type[np.floating[Any]]] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
}


class _Slot:
    """One batch size's bound buffers, used by one thread."""

    def __init__(self, runs: BoundRuns, count: int) -> None:
        rows = count * runs.rows
        self.binding = runs.session.io_binding()
        self._buffers: list[npt.NDArray[Any]] = []
        """Every bound buffer: the binding holds their addresses, not them."""
        self.columns: list[npt.NDArray[Any]] = []
        for name, column in runs.fixed.items():
            tiled = np.ascontiguousarray(np.tile(column, (count, 1)))
            self._bind_input(name, tiled)
        self.fills: list[tuple[Callable[[Any], None], str, Mapping[str, int] | None]] = []
        """For one request: each per-request column's fill, its source and its levels."""
        for name, dtype, source, levels in runs.per_request:
            column = np.empty((rows, 1), dtype=dtype)
            self.columns.append(column.reshape(count, runs.rows))
            self.fills.append((column.fill, source, levels))
            self._bind_input(name, column)
        self.output = np.empty((rows, runs.output_columns), dtype=runs.output_dtype)
        self.binding.bind_output(
            runs.output, "cpu", 0, runs.output_dtype, self.output.shape, self.output.ctypes.data
        )
        self._buffers.append(self.output)

    def _bind_input(self, name: str, column: npt.NDArray[Any]) -> None:
        self.binding.bind_input(name, "cpu", 0, column.dtype, column.shape, column.ctypes.data)
        self._buffers.append(column)


class BoundRuns:
    """P(accept) of the covered offers for one or several requests, one run each call.
    `codes` maps each categorical input's levels to the codes the session takes."""

    def __init__(
        self,
        session: ort.InferenceSession,
        output: str,
        inputs: Sequence[ModelInput],
        offer_facts: Sequence[Facts],
        codes: Mapping[str, Mapping[str, int]],
    ) -> None:
        self.session = session
        self.output = output
        self.rows = len(offer_facts)
        declared = next(o for o in session.get_outputs() if o.name == output)
        self.output_dtype = _OUTPUT_DTYPES[declared.type]
        self.output_columns: int = declared.shape[1]
        self.fixed: dict[str, npt.NDArray[Any]] = {}
        self.per_request: list[tuple[str, type[np.generic], str, Mapping[str, int] | None]] = []
        for model_input in inputs:
            levels = codes.get(model_input.name) if model_input.kind == "categorical" else None
            dtype = np.float32 if levels is None else np.int64
            if model_input.source.startswith("offer."):
                values = [_value(f.get(model_input.source), levels) for f in offer_facts]
                self.fixed[model_input.name] = np.asarray(values, dtype=dtype).reshape(-1, 1)
            else:
                self.per_request.append((model_input.name, dtype, model_input.source, levels))
        self._local = threading.local()

    def score_many(self, facts: Sequence[Facts]) -> npt.NDArray[np.float64]:
        """One row per request, one column per covered offer."""
        count = len(facts)
        if count == 1:
            return self.score_one(facts[0]).reshape(1, self.rows)
        slot = self._slot(count)
        for column, (_, _, source, levels) in zip(slot.columns, self.per_request, strict=True):
            values = [_value(f.get(source), levels) for f in facts]
            column[:] = np.asarray(values, dtype=column.dtype).reshape(-1, 1)
        self.session.run_with_iobinding(slot.binding)
        return slot.output[:, 1].astype(np.float64).reshape(count, self.rows)

    def score_one(self, facts: Facts) -> npt.NDArray[np.float64]:
        """One request's scores, one per covered offer."""
        slot = self._slot(1)
        _fill_one(slot.fills, facts)
        self.session.run_with_iobinding(slot.binding)
        return slot.output[:, 1].astype(np.float64)

    def _slot(self, count: int) -> _Slot:
        slots: dict[int, _Slot] | None = getattr(self._local, "slots", None)
        if slots is None:
            slots = self._local.slots = {}
        slot = slots.get(count)
        if slot is None:
            slot = _Slot(self, count)
            if count <= _CACHED_BATCH_SIZES:
                slots[count] = slot
        return slot


def _fill_one(
    fills: Sequence[tuple[Callable[[Any], None], str, Mapping[str, int] | None]], facts: Facts
) -> None:
    """Each column filled with one request's value (as `_value`, a float or a string
    taken as it is)."""
    for fill, source, levels in fills:
        value = facts.get(source)
        if levels is None:
            fill(value if type(value) is float else numeric_value(value))
        elif type(value) is str:
            fill(levels.get(value, UNKNOWN_LEVEL))
        else:
            fill(_value(value, levels))


def _value(value: object, levels: Mapping[str, int] | None) -> float | int:
    if levels is None:
        return numeric_value(value)
    return levels.get(category_value(value), UNKNOWN_LEVEL)
