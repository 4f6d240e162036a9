"""The decision pipeline and its contract."""

from nextbest.decide.decider import FORMULA, Decider, Decision, Ranking, StageTimings
from nextbest.decide.errors import InvalidRequestError
from nextbest.decide.service import DEGRADED_CONTACT_PRESSURE, decide_with_pressure
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
    "DEGRADED_CONTACT_PRESSURE",
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
    "Ranking",
    "StageTimings",
    "decide_with_pressure",
]
