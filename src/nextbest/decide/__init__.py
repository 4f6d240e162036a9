"""The decision pipeline and its contract."""

from nextbest.decide.decider import FORMULA, Decider, Decision, StageTimings
from nextbest.decide.errors import InvalidRequestError
from nextbest.decide.types import (
    Candidate,
    Context,
    Customer,
    DecisionRequest,
    DecisionResponse,
    Explanation,
    RankedOffer,
)

__all__ = [
    "FORMULA",
    "Candidate",
    "Context",
    "Customer",
    "Decider",
    "Decision",
    "DecisionRequest",
    "DecisionResponse",
    "Explanation",
    "InvalidRequestError",
    "RankedOffer",
    "StageTimings",
]
