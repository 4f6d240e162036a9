"""Scoring runs on buffers bound to the session once (onnxruntime's io_binding).

A run scores, for one or several requests, the offers each one asks for (its eligible
offers; all of them for an explanation). For each number of rows a thread runs, the
input and output buffers are allocated and bound once; a run writes the offers' values
(unless the buffers hold those rows already) and each request's values (numbers,
category codes) into them, and runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from nextbest.scoring.inputs import Facts, IndexArray, ModelInput, category_value, numeric_value
from nextbest.scoring.recode import UNKNOWN_LEVEL

__all__ = ["BoundRuns"]

_CACHED_ROWS = 16 * 64
"""Runs of up to this many rows keep their buffers (the batcher scores at most 16
requests a run; the demo scores 20 offers)."""

_OUTPUT_DTYPES: dict[str, type[np.floating[Any]]] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
}


class _Slot:
    """The bound buffers of runs of one number of rows, used by one thread."""

    def __init__(self, runs: BoundRuns, rows: int) -> None:
        self.binding = runs.session.io_binding()
        self._buffers: list[npt.NDArray[Any]] = []
        """Every bound buffer: the binding holds their addresses, not them."""
        self.offer_columns: list[tuple[npt.NDArray[Any], npt.NDArray[Any]]] = []
        """Each offer column (one value per covered offer) and the buffer its rows go to."""
        for name, column in runs.fixed.items():
            buffer = np.empty((rows, 1), dtype=column.dtype)
            self.offer_columns.append((column, buffer[:, 0]))
            self._bind_input(name, buffer)
        self.offer_rows: IndexArray | None = None
        """The rows the offer buffers hold now (the same array again needs no copy)."""
        self.columns: list[npt.NDArray[Any]] = []
        self.fills: list[tuple[Callable[[Any], None], str, Mapping[str, int] | None]] = []
        """For one request: each per-request column's fill, its source and its levels."""
        for name, dtype, source, levels in runs.per_request:
            buffer = np.empty((rows, 1), dtype=dtype)
            self.columns.append(buffer[:, 0])
            self.fills.append((buffer.fill, source, levels))
            self._bind_input(name, buffer)
        self.output = np.empty((rows, runs.output_columns), dtype=runs.output_dtype)
        self.binding.bind_output(
            runs.output, "cpu", 0, runs.output_dtype, self.output.shape, self.output.ctypes.data
        )
        self._buffers.append(self.output)

    def _bind_input(self, name: str, column: npt.NDArray[Any]) -> None:
        self.binding.bind_input(name, "cpu", 0, column.dtype, column.shape, column.ctypes.data)
        self._buffers.append(column)

    def place_offers(self, rows: IndexArray) -> None:
        """Each row's offer values, for the covered offers `rows` (positions)."""
        if rows is self.offer_rows:
            return
        for column, buffer in self.offer_columns:
            np.take(column, rows, out=buffer)
        self.offer_rows = rows


class BoundRuns:
    """P(accept) of covered offers for one or several requests, one run each call.
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
        self.all_rows: IndexArray = np.arange(self.rows, dtype=np.intp)
        self.all_rows.flags.writeable = False
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
                self.fixed[model_input.name] = np.asarray(values, dtype=dtype)
            else:
                self.per_request.append((model_input.name, dtype, model_input.source, levels))
        self._local = threading.local()
        self._every_row: dict[int, IndexArray] = {}

    def score_many(self, facts: Sequence[Facts]) -> npt.NDArray[np.float64]:
        """One row per request, one column per covered offer."""
        every = [self.all_rows] * len(facts)
        return self.score_rows(facts, every).reshape(len(facts), self.rows)

    def score_rows(
        self, facts: Sequence[Facts], rows: Sequence[IndexArray]
    ) -> npt.NDArray[np.float64]:
        """The scores of each request's covered offers `rows` (positions), one after the
        other, in one run; every request has at least one row."""
        if len(facts) == 1:
            offers = rows[0]
            slot = self._slot(len(offers))
            slot.place_offers(offers)
            _fill_one(slot.fills, facts[0])
        else:
            counts = [len(r) for r in rows]
            slot = self._slot(sum(counts))
            slot.place_offers(self._joined(rows))
            for column, (_, _, source, levels) in zip(slot.columns, self.per_request, strict=True):
                values = np.array([_value(f.get(source), levels) for f in facts], column.dtype)
                column[:] = np.repeat(values, counts)
        self.session.run_with_iobinding(slot.binding)
        return slot.output[:, 1].astype(np.float64)

    def _joined(self, rows: Sequence[IndexArray]) -> IndexArray:
        """The requests' rows one after the other; when every request has every covered
        offer, the same array each time for that many requests (a slot's offer buffers
        that already hold it are not written again)."""
        if not all(r is self.all_rows for r in rows):
            return np.concatenate(rows)
        joined = self._every_row.get(len(rows))
        if joined is None:
            joined = np.tile(self.all_rows, len(rows))
            joined.flags.writeable = False
            if len(rows) <= _CACHED_ROWS:
                self._every_row[len(rows)] = joined
        return joined

    def _slot(self, rows: int) -> _Slot:
        slots: dict[int, _Slot] | None = getattr(self._local, "slots", None)
        if slots is None:
            slots = self._local.slots = {}
        slot = slots.get(rows)
        if slot is None:
            slot = _Slot(self, rows)
            if rows <= _CACHED_ROWS:
                slots[rows] = slot
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
