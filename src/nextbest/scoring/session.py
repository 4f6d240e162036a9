"""Opening an ONNX model for serving: one intra-op thread, no spinning, inputs checked,
categories coded as integers where the graph allows it (see recode)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import onnxruntime as ort

from nextbest.errors import FieldError
from nextbest.scoring.recode import integer_coded

__all__ = ["ModelFileError", "OpenModel", "open_session"]

InputKind = Literal["numeric", "categorical"]

_TENSOR_TYPE: dict[InputKind, str] = {"numeric": "tensor(float)", "categorical": "tensor(string)"}
_CODED = "tensor(int64)"


@dataclass(frozen=True, slots=True)
class OpenModel:
    session: ort.InferenceSession
    codes: Mapping[str, Mapping[str, int]] | None
    """Each categorical input's level codes when the session takes codes (int64), not
    text; None when it takes text."""


class ModelFileError(FieldError):
    """The ONNX file cannot be opened, or does not have the inputs and output declared."""

    def __init__(self, field: str | None, problem: str) -> None:
        super().__init__(None, field, problem)


def _session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def open_session(
    model: Path | bytes, inputs: Sequence[tuple[str, InputKind]], output: str
) -> OpenModel:
    """Open `model` (a file, or its bytes) and check that its inputs are exactly `inputs`
    (name, kind) and that it has `output`. Raises ModelFileError naming the mismatch."""
    if isinstance(model, Path):
        try:
            model = model.read_bytes()
        except OSError as exc:
            raise ModelFileError(None, f"not a loadable ONNX model ({exc})") from exc
    coded = integer_coded(model, [name for name, kind in inputs if kind == "categorical"], output)
    try:
        session = ort.InferenceSession(
            coded.model if coded else model,
            sess_options=_session_options(),
            providers=["CPUExecutionProvider"],
        )
    except Exception as exc:  # onnxruntime raises several unrelated types for a bad file
        raise ModelFileError(None, f"not a loadable ONNX model ({exc})") from exc

    actual = {i.name: i for i in session.get_inputs()}
    declared = [name for name, _ in inputs]
    if set(actual) != set(declared):
        missing = sorted(set(actual) - set(declared))
        extra = sorted(set(declared) - set(actual))
        raise ModelFileError(
            "inputs",
            f"declared inputs do not match the ONNX graph "
            f"(graph has, not declared: {missing}; declared, not in graph: {extra})",
        )
    for position, (name, kind) in enumerate(inputs):
        onnx_input = actual[name]
        expected = _CODED if coded and name in coded.codes else _TENSOR_TYPE[kind]
        if onnx_input.type != expected:
            raise ModelFileError(
                f"inputs[{position}].kind",
                f"input {name!r} is {onnx_input.type} in the graph, declared {kind}",
            )
        shape = onnx_input.shape
        if len(shape) != 2 or shape[1] != 1:
            raise ModelFileError(
                f"inputs[{position}]", f"input {name!r} has shape {shape}, expected [N, 1]"
            )
    outputs = [o.name for o in session.get_outputs()]
    if output not in outputs:
        raise ModelFileError("output", f"no output {output!r} in the graph (has {outputs})")
    return OpenModel(session, coded.codes if coded else None)
