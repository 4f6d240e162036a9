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
    "ExplorationNote",
    "RankedOffer",
]

AttributeValue = str | int | float | bool | list[str]
AttributeMap = dict[Annotated[str, msgspec.Meta(max_length=64)], AttributeValue | None]


def _attributes(declared_in: str) -> msgspec.Meta:
    return msgspec.Meta(
        max_length=100,
        description=f"More facts. Those the bundle declares (`{declared_in}`) must have the "
        "declared type (number, string, boolean, string_list; null is a missing value); "
        "others are ignored.",
    )


class _In(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    pass


class _Out(msgspec.Struct, kw_only=True, frozen=True):
    pass


class Customer(_In, frozen=True):
    """The customer the decision is for."""

    id: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=128,
            description="Your customer id; contact caps are counted per id.",
        ),
    ]
    clv: (
        Annotated[
            float, msgspec.Meta(description="Customer lifetime value; adds to some offers' value.")
        ]
        | None
    ) = None
    lifecycle_stage: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=64,
                description="One of the serving bundle's `vocabulary.lifecycle_stages`.",
            ),
        ]
        | None
    ) = None
    attributes: Annotated[AttributeMap, _attributes("customer_attributes")] = {}


class Context(_In, frozen=True):
    """Where and why the customer is in contact now."""

    channel: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=64,
            description="One of the serving bundle's `vocabulary.channels`.",
        ),
    ]
    call_reason: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=64,
                description="One of the serving bundle's `vocabulary.call_reasons`.",
            ),
        ]
        | None
    ) = None
    wait_time_s: (
        Annotated[
            float, msgspec.Meta(ge=0, description="How long the customer waited, in seconds.")
        ]
        | None
    ) = None
    placement: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1, max_length=64, description="Where an offer will be shown (free text)."
            ),
        ]
        | None
    ) = None
    attributes: Annotated[AttributeMap, _attributes("context_attributes")] = {}


class DecisionRequest(_In, frozen=True):
    customer: Customer
    context: Context
    limit: Annotated[
        int, msgspec.Meta(ge=1, le=25, description="How many offers to return at most.")
    ] = 3
    explain: Annotated[
        bool,
        msgspec.Meta(description="Also return `explanation`: every candidate, scored or dropped."),
    ] = False
    dry_run: Annotated[
        bool,
        msgspec.Meta(
            description="Decide without recording the contacts (caps are checked, not counted)."
        ),
    ] = False


class RankedOffer(_Out, frozen=True):
    rank: Annotated[int, msgspec.Meta(description="1 for the best offer.")]
    offer_id: str
    name: str
    category: str
    priority: Annotated[
        float, msgspec.Meta(description="propensity * context_weight * value * lever * boost")
    ]
    propensity: Annotated[
        float, msgspec.Meta(description="The model's probability of acceptance, 0 to 1.")
    ]
    value: Annotated[
        float, msgspec.Meta(description="offer.value + clv_share[category] * customer.clv")
    ]
    treatment: Annotated[
        dict[str, str], msgspec.Meta(description="The offer's treatment (script, text, ...).")
    ]


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
    reason: Annotated[
        str | None,
        msgspec.Meta(
            description="Why it was dropped: `channel`, `rule:<id>`, `arm:<arm id>` (a "
            "`no_offer` control arm), `cap:<policy id>`, `degraded:contact_pressure` or `rank`."
        ),
    ]
    rank: int | None
    rules: list[str]
    """Ids of the rules that fired for this offer (dropped, required, pinned or boosted it)."""


class ExplorationNote(_Out, frozen=True):
    """How an exploring channel chose this answer."""

    policy: Annotated[str, msgspec.Meta(description="`epsilon` or `thompson`.")]
    parameter: Annotated[float, msgspec.Meta(description="epsilon, or Thompson's prior strength.")]
    explored_ranks: Annotated[
        list[int],
        msgspec.Meta(
            description="Ranks that exploring filled (epsilon: the slot drew uniformly "
            "among the offers allowed; Thompson: the offer differs from the model's order)."
        ),
    ]
    logged_propensities: Annotated[
        list[float],
        msgspec.Meta(
            description="Per returned offer, best first: the probability that the policy "
            "put it at that rank for this request (recorded in the history)."
        ),
    ]


class Explanation(_Out, frozen=True):
    formula: str
    candidates: list[Candidate]
    exploration: ExplorationNote | None = None


class DecisionResponse(_Out, frozen=True):
    decision_id: Annotated[str, msgspec.Meta(description="Send it back with `POST /v1/feedback`.")]
    bundle_version: str
    customer_id: str
    channel: str
    offers: Annotated[list[RankedOffer], msgspec.Meta(description="Best first.")]
    degraded: Annotated[
        list[str],
        msgspec.Meta(
            description="What could not be asked (`contact_pressure`: the contact store), so "
            "the answer was made without it."
        ),
    ] = []
    explanation: Explanation | None = None
    experiment: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(
            description="The experiment (`experiments.yaml`) this decision fell in; absent "
            "when none covers its channel and placement."
        ),
    ] = msgspec.UNSET
    arm: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(
            description="The customer's arm in `experiment` (a stable hash of the customer "
            "id); absent when no experiment applies."
        ),
    ] = msgspec.UNSET
