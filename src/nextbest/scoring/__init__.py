"""ONNX propensity scoring: sessions opened and checked once, one run per model per request."""

from nextbest.scoring.inputs import ModelInput, encode
from nextbest.scoring.model import PropensityModel
from nextbest.scoring.session import ModelFileError, OpenModel, open_session

__all__ = [
    "ModelFileError",
    "ModelInput",
    "OpenModel",
    "PropensityModel",
    "encode",
    "open_session",
]
