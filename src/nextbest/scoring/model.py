"""A propensity model ready to score every offer it covers for one request, in one call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from nextbest.scoring.bound import BoundRuns
from nextbest.scoring.inputs import (
    Facts,
    IndexArray,
    ModelInput,
    category_value,
    encode,
    numeric_value,
)

__all__ = ["PropensityModel"]

FloatArray = npt.NDArray[np.float64]


class PropensityModel:
    """Scores the offers `offer_indices` (catalogue order) with one ONNX session run.

    Columns that come from the offer are built once here; a request only fills the
    customer and context columns. A session that takes its categories as codes (`codes`,
    see nextbest.scoring.recode) runs on buffers bound once (BoundRuns); one that takes
    text is fed arrays.
    """

    def __init__(
        self,
        model_id: str,
        session: ort.InferenceSession,
        inputs: Sequence[ModelInput],
        output: str,
        offer_indices: Sequence[int],
        offer_facts: Sequence[Facts],
        codes: Mapping[str, Mapping[str, int]] | None = None,
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
        self._codes = codes
        self._bound = (
            BoundRuns(session, output, self.inputs, offer_facts, codes)
            if codes is not None
            else None
        )
        self.all_rows: IndexArray = (
            self._bound.all_rows if self._bound is not None else np.arange(rows, dtype=np.intp)
        )
        """Every covered offer's position, for `score_rows`."""
        self.all_rows.flags.writeable = False

    @property
    def bound(self) -> bool:
        """Whether the session runs on bound buffers (its categories coded as integers)."""
        return self._bound is not None

    def covering(
        self, offer_indices: Sequence[int], offer_facts: Sequence[Facts]
    ) -> PropensityModel:
        """The same model, its ONNX session shared, scoring other offers."""
        return PropensityModel(
            self.id,
            self._session,
            self.inputs,
            self._output[0],
            offer_indices,
            offer_facts,
            self._codes,
        )

    @staticmethod
    def _column(kind: Literal["numeric", "categorical"], values: list[Any]) -> npt.NDArray[Any]:
        dtype = np.float32 if kind == "numeric" else np.object_
        return np.asarray(values, dtype=dtype).reshape(-1, 1)

    def score(self, facts: Facts) -> FloatArray:
        """P(accept) for each covered offer, in `offer_indices` order."""
        return self.score_rows([facts], [self.all_rows])

    def score_many(self, facts: Sequence[Facts]) -> npt.NDArray[np.float64]:
        """P(accept) for each covered offer, one row per request, in one session run."""
        every = [self.all_rows] * len(facts)
        return self.score_rows(facts, every).reshape(len(facts), self._rows)

    def score_rows(self, facts: Sequence[Facts], rows: Sequence[IndexArray]) -> FloatArray:
        """P(accept) of each request's covered offers `rows` (positions in
        `offer_indices`; at least one each), one request after the other, in one run."""
        if self._bound is not None:
            return self._bound.score_rows(facts, rows)
        counts = [len(r) for r in rows]
        offers = rows[0] if len(rows) == 1 else np.concatenate(rows)
        feed = {name: column[offers] for name, column in self._fixed.items()}
        for name, kind, source in self._per_request:
            if kind == "numeric":
                values: npt.NDArray[Any] = np.array(
                    [numeric_value(f.get(source)) for f in facts], dtype=np.float32
                )
            else:
                values = np.array([category_value(f.get(source)) for f in facts], dtype=np.object_)
            feed[name] = np.repeat(values, counts).reshape(-1, 1)
        probabilities = self._session.run(self._output, feed)[0]
        return np.asarray(probabilities[:, 1], dtype=np.float64)
