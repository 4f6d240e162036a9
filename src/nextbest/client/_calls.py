"""The requests the client makes, apart from how they are sent (sync or async)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from nextbest.api.wire import (
    BundleInfo,
    FeedbackReceipt,
    FeedbackRequest,
    Health,
    OffersPage,
    ReloadInfo,
    ReloadRequest,
)
from nextbest.client._errors import raise_for_problem
from nextbest.decide.types import DecisionRequest, DecisionResponse

__all__ = ["Call", "decide", "feedback", "offers", "ready", "reload", "serving_bundle"]

T = TypeVar("T")
_encoder = msgspec.json.Encoder()
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}
REQUEST_ID = "x-request-id"


def _decoder(kind: type[T]) -> msgspec.json.Decoder[T]:
    found = _decoders.get(kind)
    if found is None:
        found = _decoders[kind] = msgspec.json.Decoder(kind)
    return found


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One HTTP call: what to send and how to read the answer."""

    method: str
    path: str
    answer: type[T]
    body: bytes | None = None
    headers: dict[str, str] | None = None

    def read(self, status: int, content: bytes, request_id: str | None) -> T:
        raise_for_problem(status, content, request_id)
        return _decoder(self.answer).decode(content)


def _headers(request_id: str | None, traceparent: str | None) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if request_id:
        headers["x-request-id"] = request_id
    if traceparent:
        headers["traceparent"] = traceparent
    return headers


def decide(
    request: DecisionRequest, request_id: str | None, traceparent: str | None
) -> Call[DecisionResponse]:
    return Call(
        "POST",
        "/v1/decisions",
        DecisionResponse,
        _encoder.encode(request),
        _headers(request_id, traceparent),
    )


def feedback(
    event: FeedbackRequest, request_id: str | None, traceparent: str | None
) -> Call[FeedbackReceipt]:
    return Call(
        "POST",
        "/v1/feedback",
        FeedbackReceipt,
        _encoder.encode(event),
        _headers(request_id, traceparent),
    )


def offers() -> Call[OffersPage]:
    return Call("GET", "/v1/offers", OffersPage)


def serving_bundle() -> Call[BundleInfo]:
    return Call("GET", "/v1/bundle", BundleInfo)


def ready() -> Call[Health]:
    return Call("GET", "/health/ready", Health)


def reload(path: str | None, token: str) -> Call[ReloadInfo]:
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    return Call(
        "POST",
        "/admin/bundle/reload",
        ReloadInfo,
        _encoder.encode(ReloadRequest(path=path)),
        headers,
    )
