"""The decision contract: what a client sends and what it gets back (msgspec Structs).

These are the wire types of `POST /v1/decisions`; the API encodes and decodes them as
they are.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

__all__ = [
    "AttributeValue",
    "Candidate",
    "Context",
    "Customer",
    "DecisionRequest",
    "DecisionResponse",
    "Explanation",
    "RankedOffer",
]

AttributeValue = str | int | float | bool | list[str]
Attributes = Annotated[
    dict[Annotated[str, msgspec.Meta(max_length=64)], AttributeValue | None],
    msgspec.Meta(max_length=100),
]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class _In(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    pass


class _Out(msgspec.Struct, kw_only=True, frozen=True):
    pass


class Customer(_In, frozen=True):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    clv: float | None = None
    lifecycle_stage: Name | None = None
    attributes: Attributes = {}


class Context(_In, frozen=True):
    channel: Name
    call_reason: Name | None = None
    wait_time_s: Annotated[float, msgspec.Meta(ge=0)] | None = None
    placement: Name | None = None
    attributes: Attributes = {}


class DecisionRequest(_In, frozen=True):
    customer: Customer
    context: Context
    limit: Annotated[int, msgspec.Meta(ge=1, le=25)] = 3
    explain: bool = False
    dry_run: bool = False


class RankedOffer(_Out, frozen=True):
    rank: int
    offer_id: str
    name: str
    category: str
    priority: float
    propensity: float
    value: float
    treatment: dict[str, str]


class Candidate(_Out, frozen=True):
    offer_id: str
    category: str
    propensity: float
    value: float
    lever: float
    context_weight: float
    boost: float
    pinned: bool
    priority: float
    outcome: Literal["selected", "dropped"]
    reason: str | None
    rank: int | None
    rules: list[str]
    """Ids of the rules that fired for this offer (dropped, required, pinned or boosted it)."""


class Explanation(_Out, frozen=True):
    formula: str
    candidates: list[Candidate]


class DecisionResponse(_Out, frozen=True):
    decision_id: str
    bundle_version: str
    customer_id: str
    channel: str
    offers: list[RankedOffer]
    degraded: list[str] = []
    explanation: Explanation | None = None
