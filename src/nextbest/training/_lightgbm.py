"""LightGBM as training uses it: its ONNX converter (onnxmltools', registered with
skl2onnx, the documented way to put LightGBM into a scikit-learn pipeline's ONNX graph),
and Platt scaling written into the trees themselves.

skl2onnx's calibration converter would feed the sigmoid LightGBM's probability, while
scikit-learn feeds it the raw score, so a calibrated LightGBM is not wrapped: as
P = 1 / (1 + exp(a * raw + b)) and raw is the sum of one leaf value per tree, every leaf
value is multiplied by -a and -b is added to the leaves of the first tree (every row
reaches exactly one of them). The result is a plain LightGBM model whose own probability
is the calibrated one, in scikit-learn and in ONNX alike. Imported only when the ``lgbm``
family is used.
"""

from __future__ import annotations

import functools

import lightgbm
import numpy as np
from lightgbm import LGBMClassifier
from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
from skl2onnx import update_registered_converter
from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

__all__ = ["register_lightgbm", "with_platt"]


@functools.cache
def register_lightgbm() -> None:
    """Register the converter once per process."""
    update_registered_converter(
        LGBMClassifier,
        "LightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes,
        convert_lightgbm,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )


def with_platt(model: LGBMClassifier, a: float, b: float) -> LGBMClassifier:
    """``model`` (fitted, binary) with P = 1 / (1 + exp(a * raw + b)) in its leaves."""
    lines = []
    tree = -1
    for line in model.booster_.model_to_string().splitlines():
        if line.startswith("tree_sizes="):
            continue  # byte offsets of the trees, which change; LightGBM parses without them
        if line.startswith("Tree="):
            tree = int(line.removeprefix("Tree="))
        elif line.startswith("leaf_value="):
            values = np.array(line.removeprefix("leaf_value=").split(), dtype=np.float64) * -a
            if tree == 0:
                values -= b
            line = "leaf_value=" + " ".join(repr(float(v)) for v in values)
        lines.append(line)
    model._Booster = lightgbm.Booster(model_str="\n".join(lines) + "\n")
    return model
