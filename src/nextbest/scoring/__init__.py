"""ONNX propensity scoring: sessions opened and checked once, one run per model per request."""

from nextbest.scoring.model import ModelInput, PropensityModel, encode
from nextbest.scoring.session import ModelFileError, open_session

__all__ = ["ModelFileError", "ModelInput", "PropensityModel", "encode", "open_session"]
