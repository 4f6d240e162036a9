"""Teach skl2onnx to convert a LightGBM classifier inside a scikit-learn pipeline, with
onnxmltools' converter (the documented way to combine the two)."""

from __future__ import annotations

import functools

__all__ = ["register_lightgbm"]


@functools.cache
def register_lightgbm() -> None:
    """Register once per process; importing lightgbm and onnxmltools only when called."""
    from lightgbm import LGBMClassifier
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import (
        convert_lightgbm,
    )
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    update_registered_converter(
        LGBMClassifier,
        "LightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes,
        convert_lightgbm,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
