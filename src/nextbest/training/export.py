"""ONNX export of a fitted propensity pipeline, guarded by a parity gate.

One ONNX input per feature, named as the feature, shape [None, 1]: float for
numeric, string for categorical. The output ``probabilities`` is a float tensor
[N, 2]; column 1 is P(accept). Before any byte is written, onnxruntime must
reproduce scikit-learn's ``predict_proba`` on held-out rows within
``PARITY_TOLERANCE``; otherwise :class:`ParityError` is raised.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.pipeline import Pipeline

from nextbest.training.errors import TrainingError
from nextbest.training.features import FeatureSpec
from nextbest.training.pipeline import feature_matrix

__all__ = [
    "OUTPUT_NAME",
    "PARITY_TOLERANCE",
    "TARGET_OPSET",
    "ParityError",
    "check_parity",
    "export_onnx",
    "onnx_feed",
    "single_thread_session",
]

OUTPUT_NAME = "probabilities"
PARITY_TOLERANCE = 1e-5
# Fixed, so that the same pipeline always gives the same bytes; ai.onnx.ml 3 keeps
# TreeEnsembleClassifier loadable by every onnxruntime the service supports.
TARGET_OPSET: dict[str, int] = {"": 17, "ai.onnx.ml": 3}


class ParityError(TrainingError):
    """onnxruntime and scikit-learn disagree on a held-out row."""

    def __init__(self, problem: str) -> None:
        super().__init__("ONNX export", "parity", problem)


def onnx_feed(
    columns: Mapping[str, NDArray[Any]], features: Sequence[FeatureSpec]
) -> dict[str, NDArray[Any]]:
    """The ONNX input feed for columnar rows: float32 or string columns of shape [N, 1]."""
    feed: dict[str, NDArray[Any]] = {}
    for spec in features:
        col = columns[spec.name]
        dtype = np.float32 if spec.kind == "numeric" else object
        feed[spec.name] = np.asarray(col, dtype=dtype).reshape(-1, 1)
    return feed


def single_thread_session(model: bytes) -> ort.InferenceSession:
    """A CPU session with one intra-op and one inter-op thread, as the service runs it."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def export_onnx(pipeline: Pipeline, features: Sequence[FeatureSpec], *, name: str) -> bytes:
    """Convert a fitted pipeline to serialized ONNX (deterministic for a given pipeline)."""
    initial_types = [
        (f.name, FloatTensorType([None, 1]) if f.kind == "numeric" else StringTensorType([None, 1]))
        for f in features
    ]
    classifier = pipeline.steps[-1][1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=DeprecationWarning)
        model = convert_sklearn(
            pipeline,
            name=name,
            initial_types=initial_types,
            options={id(classifier): {"zipmap": False}},
            target_opset=TARGET_OPSET,
        )
    # skl2onnx collects the opset imports in a set: order them, or the bytes
    # depend on the process's string hash seed.
    imports = sorted((o.domain, o.version) for o in model.opset_import)
    del model.opset_import[:]
    for domain, version in imports:
        model.opset_import.add(domain=domain, version=version)
    outputs = [o.name for o in model.graph.output]
    if OUTPUT_NAME not in outputs:
        raise RuntimeError(f"skl2onnx produced outputs {outputs}, expected {OUTPUT_NAME!r}")
    data: bytes = model.SerializeToString()
    return data


def check_parity(
    pipeline: Pipeline,
    model: bytes,
    columns: Mapping[str, NDArray[Any]],
    features: Sequence[FeatureSpec],
) -> float:
    """Max |P_onnx - P_sklearn| over the rows; raises :class:`ParityError` above tolerance."""
    expected = pipeline.predict_proba(feature_matrix(columns, features))
    (got,) = single_thread_session(model).run([OUTPUT_NAME], onnx_feed(columns, features))
    got = np.asarray(got, dtype=np.float64)
    if got.shape != expected.shape:
        raise ParityError(f"ONNX output shape {got.shape} != scikit-learn {expected.shape}")
    delta = float(np.max(np.abs(got - expected))) if got.size else 0.0
    if not np.isfinite(delta) or delta > PARITY_TOLERANCE:
        raise ParityError(
            f"ONNX and scikit-learn disagree by {delta:.3g} (tolerance {PARITY_TOLERANCE:g}); "
            "nothing was written"
        )
    return delta
