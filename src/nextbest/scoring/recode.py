"""A model's categories coded as integers at load time, so that it can run on bound buffers.

onnxruntime binds only numeric tensors to pre-allocated buffers (io_binding); a string
tensor is copied into the runtime on every run. A graph made by scikit-learn and
skl2onnx reads each categorical input with a `OneHotEncoder` over its levels
(`cats_strings`). The same encoder over the levels' positions (`cats_int64s`) gives the
same one-hot rows, so the copy of the graph made here takes each level's position
(int64) instead of its text; an unknown level is -1, which matches no position, as an
unknown string matches no level. The copy also keeps only the output the bundle reads
(the runtime then skips the nodes that only make the others).

A graph that reads a categorical input any other way, or whose output's width is not
fixed, is left as it is (None) and is fed text.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import onnx
from onnx import TensorProto, helper

__all__ = ["UNKNOWN_LEVEL", "IntegerCoded", "integer_coded"]

UNKNOWN_LEVEL = -1
"""The code of a level the graph does not know (the one-hot row is all zeros)."""

_ONE_HOT = ("OneHotEncoder", "ai.onnx.ml")
_SUBGRAPHS = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)


@dataclass(frozen=True, slots=True)
class IntegerCoded:
    model: bytes
    """The graph with every categorical input an int64 tensor."""
    codes: Mapping[str, Mapping[str, int]]
    """For each categorical input, each level's code."""


def integer_coded(model: bytes, categorical: Collection[str], output: str) -> IntegerCoded | None:
    """The int64-coded copy of `model`, whose inputs `categorical` are string tensors each
    read by one-hot encoders only; None when the graph is anything else."""
    try:
        proto = onnx.load_model_from_string(model)
    except Exception:  # protobuf's DecodeError and others: not a graph to code
        return None
    graph = proto.graph
    if any(a.type in _SUBGRAPHS for n in graph.node for a in n.attribute):
        return None  # a subgraph could read an input too
    inputs = {i.name: i for i in graph.input}
    if any(
        name not in inputs or inputs[name].type.tensor_type.elem_type != TensorProto.STRING
        for name in categorical
    ):
        return None
    readers = {name: [n for n in graph.node if name in n.input] for name in categorical}
    codes: dict[str, dict[str, int]] = {}
    for name, nodes in readers.items():
        levels = _shared_levels(nodes)
        if levels is None:
            return None
        codes[name] = {level: code for code, level in enumerate(levels)}
    for name, nodes in readers.items():
        inputs[name].type.tensor_type.elem_type = TensorProto.INT64
        for node in nodes:
            _code_levels(node)
    kept = [o for o in graph.output if o.name == output]
    if not kept or not _fixed_width_floats(kept[0]):
        return None
    del graph.output[:]
    graph.output.extend(kept)
    return IntegerCoded(proto.SerializeToString(), codes)


def _fixed_width_floats(output: onnx.ValueInfoProto) -> bool:
    """Whether the output's buffer can be allocated before a run: float or double, [N, k]."""
    tensor = output.type.tensor_type
    dims = tensor.shape.dim
    return (
        tensor.elem_type in (TensorProto.FLOAT, TensorProto.DOUBLE)
        and len(dims) == 2
        and dims[1].HasField("dim_value")
    )


def _attributes(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _shared_levels(nodes: list[onnx.NodeProto]) -> list[str] | None:
    """The levels of the one-hot encoders reading one input; None unless there are such
    encoders only, all with the same string levels."""
    levels: list[str] | None = None
    for node in nodes:
        if (node.op_type, node.domain) != _ONE_HOT or list(node.input) != [node.input[0]]:
            return None
        attributes = _attributes(node)
        raw = attributes.get("cats_strings")
        if not isinstance(raw, list) or "cats_int64s" in attributes:
            return None
        these = [level.decode() for level in raw]
        if (levels is not None and these != levels) or len(set(these)) != len(these):
            return None
        levels = these
    return levels


def _code_levels(node: onnx.NodeProto) -> None:
    count = len(_attributes(node)["cats_strings"])  # type: ignore[arg-type]
    kept = [a for a in node.attribute if a.name != "cats_strings"]
    del node.attribute[:]
    node.attribute.extend([*kept, helper.make_attribute("cats_int64s", list(range(count)))])
