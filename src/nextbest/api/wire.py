"""Wire types of the routes other than decisions (those use `nextbest.decide.types`), and
of the problem documents every error is answered with. msgspec only: the client
(`nextbest.client`) decodes with these same types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

__all__ = [
    "BundleInfo",
    "FeedbackReceipt",
    "FeedbackRequest",
    "FieldProblem",
    "Health",
    "OfferInfo",
    "OffersPage",
    "Problem",
    "ReloadInfo",
    "ReloadProblemInfo",
    "ReloadRefused",
    "ReloadRequest",
]


class _Out(msgspec.Struct, kw_only=True, frozen=True):
    pass


class OfferInfo(_Out, frozen=True):
    id: str
    name: str
    category: str
    channels: list[str]
    value: float
    lever: float
    product: str | None
    tags: list[str]
    treatment: dict[str, str]


class OffersPage(_Out, frozen=True):
    bundle_version: str
    offers: list[OfferInfo]


class ReloadProblemInfo(_Out, frozen=True):
    file: str
    field: str | None
    problem: str


class ReloadInfo(_Out, frozen=True, omit_defaults=True):
    """A reload attempt: `loaded` (then `version` is the new one) or `refused` (then
    `version` is the one still serving and `problems` says why)."""

    at: datetime
    trigger: Literal["admin", "watch"]
    result: Literal["loaded", "refused"]
    version: str | None = None
    path: str | None = None
    problems: list[ReloadProblemInfo] = []


class ReloadRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    path: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)] | None = None
    """A bundle directory on the server; default: the serving bundle's directory."""


class BundleInfo(_Out, frozen=True):
    name: str
    version: str
    description: str
    loaded_at: datetime
    checksums: dict[str, str]
    offers: int
    rules: int
    models: list[str]
    policies: list[str]
    last_reload: ReloadInfo | None = None
    experiments: Annotated[
        dict[str, list[str]],
        msgspec.Meta(description="Each experiment's id and its arms' ids (experiments.yaml)."),
    ] = {}


class Health(_Out, frozen=True, omit_defaults=True):
    status: str
    bundle_version: str | None = None
    contact_store: Literal["ok", "degraded"] | None = None
    history: Literal["ok", "degraded", "off"] | None = None
    """`degraded` while history records are being dropped (queue full or sink failing)."""


class FeedbackRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    decision_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    customer_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    offer_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    channel: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    outcome: Literal["presented", "accepted", "declined", "ignored", "discarded"]
    event_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    occurred_at: datetime | None = None
    placement: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=64,
                description="The decision's `context.placement`, so that the response "
                "counts under the experiment arm of that placement (`/metrics`).",
            ),
        ]
        | None
    ) = None


class FeedbackReceipt(_Out, frozen=True):
    status: Literal["recorded", "duplicate"]
    idempotency_key: str


class FieldProblem(msgspec.Struct, frozen=True):
    field: Annotated[
        str,
        msgspec.Meta(
            description="Dotted path of the request field (`context.channel`), or `body`.",
            examples=["context.channel"],
        ),
    ]
    problem: Annotated[str, msgspec.Meta(description="What is wrong with it.")]


class Problem(msgspec.Struct, kw_only=True, frozen=True):
    """An RFC 9457 problem document."""

    type: Annotated[
        str,
        msgspec.Meta(
            description="`urn:nextbest:problem:invalid-request` (422), "
            "`urn:nextbest:problem:malformed-body` (400), "
            "`urn:nextbest:problem:bundle-refused` (a refused reload), "
            "else `about:blank` (the status says it all)."
        ),
    ]
    title: str
    status: int
    detail: Annotated[str, msgspec.Meta(description="Every problem, as one line.")]
    errors: Annotated[
        list[FieldProblem],
        msgspec.Meta(
            description="Every problem found, one per field. The structural checks (types, "
            "ranges, unknown fields) stop at the first; the checks against the bundle's "
            "vocabulary and declared attributes list them all."
        ),
    ] = []


class ReloadRefused(Problem, kw_only=True, frozen=True):
    """A refused bundle reload: the problem document, plus the attempt (`version` is the
    one still serving) and every problem found in the bundle."""

    at: datetime
    trigger: Literal["admin", "watch"]
    result: Literal["refused"]
    version: str | None = None
    path: str | None = None
    problems: list[ReloadProblemInfo] = []
