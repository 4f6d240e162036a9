"""The decision: its wire contract (`nextbest.decide.types`, light to import) and its
stages (`nextbest.decide.decider` and the modules beside it)."""

from typing import TYPE_CHECKING

from nextbest.decide.types import (
    Candidate,
    Context,
    Customer,
    DecisionRequest,
    DecisionResponse,
    Explanation,
    RankedOffer,
)
from nextbest.errors import InvalidRequestError

if TYPE_CHECKING:
    from nextbest.decide.decider import Decider

__all__ = [
    "Candidate",
    "Context",
    "Customer",
    "Decider",
    "DecisionRequest",
    "DecisionResponse",
    "Explanation",
    "InvalidRequestError",
    "RankedOffer",
]


def __getattr__(name: str) -> object:
    """`Decider` is imported on first use (PEP 562): the wire contract alone loads no
    model runtime."""
    if name == "Decider":
        from nextbest.decide.decider import Decider

        return Decider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
