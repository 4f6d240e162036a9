"""LightGBM as training uses it: a classifier scikit-learn's calibration reads through
P(accept), and its ONNX converter (onnxmltools', registered with skl2onnx, the documented
way to put LightGBM into a scikit-learn pipeline's ONNX graph).

LightGBM's own ``decision_function`` (the raw score) is hidden: skl2onnx's calibration
converter feeds the sigmoid the base model's probabilities, while scikit-learn would feed
it the decision function when there is one; without it both take P(accept) and agree.
Imported only when the ``lgbm`` family is used.
"""

from __future__ import annotations

import functools
from typing import Any

from lightgbm import LGBMClassifier
from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
from skl2onnx import update_registered_converter
from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

__all__ = ["ProbabilityLGBMClassifier", "register_lightgbm"]


class ProbabilityLGBMClassifier(LGBMClassifier):
    """``LGBMClassifier`` without ``decision_function``."""

    @property
    def decision_function(self) -> Any:
        raise AttributeError("calibrated on predict_proba, as the ONNX graph is")


@functools.cache
def register_lightgbm() -> None:
    """Register the converter once per process."""
    update_registered_converter(
        ProbabilityLGBMClassifier,
        "LightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes,
        convert_lightgbm,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
