"""The values a decision passes from stage to stage; each stage makes new ones.

request -> Facts -> Verdicts -> propensities -> Ranking -> Selection -> Decision

The values made once or more per decision are frozen msgspec Structs, not dataclasses: a
frozen dataclass pays an `object.__setattr__` per field in `__init__`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

from nextbest.decide.types import DecisionRequest, DecisionResponse
from nextbest.experiments import Assignment
from nextbest.fields import Value
from nextbest.scoring.inputs import IndexArray

__all__ = [
    "DEGRADED_CONTACT_PRESSURE",
    "Decision",
    "DropReason",
    "Explored",
    "Facts",
    "FloatArray",
    "IndexArray",
    "Ranking",
    "Selection",
    "StageTimings",
    "Verdict",
]

FloatArray = npt.NDArray[np.float64]
Facts = dict[str, Value]
"""A request's facts by field path; a missing value is an absent key or None."""

DEGRADED_CONTACT_PRESSURE = "contact_pressure"

DropKind = Literal["channel", "rule", "arm", "cap", "degraded", "rank"]


@dataclass(frozen=True, slots=True)
class DropReason:
    """Why an offer is not in the answer: not on the channel, a rule (`id` = rule id),
    the customer's experiment arm (`id` = arm id; a `no_offer` control), a cap (`id` =
    policy id), withheld because the contact store could not be asked (`degraded`), or
    ranked below the limit."""

    kind: DropKind
    id: str | None = None

    @property
    def wire(self) -> str:
        """`channel`, `rule:<id>`, `arm:<id>`, `cap:<id>`, `degraded:contact_pressure` or `rank`."""
        if self.kind == "degraded":
            return f"degraded:{DEGRADED_CONTACT_PRESSURE}"
        return f"{self.kind}:{self.id}" if self.id is not None else self.kind


OFF_CHANNEL = DropReason("channel")
BELOW_LIMIT = DropReason("rank")
WITHHELD = DropReason("degraded")


class Verdict(msgspec.Struct, frozen=True):
    """What eligibility said about one offer for one request."""

    dropped_by: DropReason | None = None
    pinned: bool = False
    boost: float = 1.0
    fired: tuple[str, ...] = ()
    """Ids of the rules that dropped, required, pinned or boosted the offer."""


ELIGIBLE = Verdict()
NOT_ON_CHANNEL = Verdict(dropped_by=OFF_CHANNEL)


class StageTimings(msgspec.Struct, frozen=True):
    """Nanoseconds spent in each stage of one decision."""

    rules_ns: int = 0
    scoring_ns: int = 0
    arbitration_ns: int = 0
    pressure_ns: int = 0


class Ranking(msgspec.Struct, frozen=True):
    """The decision before contact pressure: every offer's scores and verdict (catalogue
    order), and the eligible offers' ids in rank order."""

    request: DecisionRequest
    decision_id: str
    facts: Facts
    order: tuple[str, ...]
    verdicts: tuple[Verdict, ...]
    propensity: FloatArray
    """An offer that is not eligible has a model's score only when the request asks for
    the explanation; otherwise 0 (or its fixed propensity). See decide/scores.py."""
    weight: FloatArray
    value: FloatArray
    lever: FloatArray
    boost: FloatArray
    priority: FloatArray
    timings: StageTimings
    assignment: Assignment | None = None
    """The experiment and arm the decision was made in; None when no experiment applies."""


class Selection(msgspec.Struct, frozen=True):
    """The offers contact pressure let through, in rank order; the ones it held back with
    their reason; and whether the store could not be asked (`degraded_mode` says how the
    answer was made instead)."""

    selected: tuple[str, ...]
    blocked: Mapping[str, DropReason] = msgspec.field(default_factory=dict)
    degraded_mode: str | None = None
    exploration: Explored | None = None


@dataclass(frozen=True, slots=True)
class Explored:
    """How an exploring decision chose its offers."""

    policy: Literal["epsilon", "thompson"]
    parameter: float
    """epsilon, or Thompson's prior strength."""
    logged_propensities: tuple[float, ...]
    """For each selected offer (rank order): the probability that the policy put it at
    that rank, for this request and this state of the contact store."""
    explored_ranks: tuple[int, ...]
    """Ranks (from 1) that exploring filled: epsilon, the slots that drew uniformly;
    Thompson, the ranks whose offer differs from the model's order of the offers the
    caps allowed at the start."""


class Decision(msgspec.Struct, frozen=True):
    """The finished decision: the answer, and what it was made from."""

    response: DecisionResponse
    ranking: Ranking
    selection: Selection
    timings: StageTimings
