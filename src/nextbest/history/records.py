"""The history's two records, versioned msgspec Structs written one JSON object a line.

Field paths in `fields` are the field catalogue's (`customer.clv`,
`customer.attributes.tenure_months`), the same names the rules, models and training use.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from nextbest.fields import Value

__all__ = [
    "SCHEMA_VERSION",
    "DecisionRecord",
    "OfferShown",
    "Outcome",
    "Record",
    "ResponseRecord",
    "decode_record",
    "encode_record",
]

SCHEMA_VERSION = 1
Outcome = Literal["presented", "accepted", "declined", "ignored", "discarded"]


class OfferShown(msgspec.Struct, kw_only=True, frozen=True):
    offer_id: str
    rank: int
    category: str
    propensity: float
    priority: float
    value: float
    logged_propensity: float = 1.0
    """The probability that the serving policy put this offer at this rank for this
    request (1.0 while the policy is deterministic)."""


class _Record(msgspec.Struct, kw_only=True, frozen=True, tag_field="kind"):
    v: int = SCHEMA_VERSION


class DecisionRecord(_Record, kw_only=True, frozen=True, tag="decision"):
    decision_id: str
    at: datetime
    bundle_name: str
    bundle_version: str
    customer_id: str
    channel: str
    placement: str | None = None
    experiment: str | None = None
    arm: str | None = None
    fields: dict[str, Value] = {}
    offers: list[OfferShown] = []
    degraded: bool = False


class ResponseRecord(_Record, kw_only=True, frozen=True, tag="response"):
    decision_id: str
    offer_id: str
    customer_id: str
    channel: str
    outcome: Outcome
    occurred_at: datetime
    received_at: datetime
    key: str


Record = DecisionRecord | ResponseRecord

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[Record] = msgspec.json.Decoder(Record)


def encode_record(record: Record) -> bytes:
    return _encoder.encode(record)


def decode_record(line: bytes) -> Record:
    """Raises msgspec.DecodeError (or ValidationError) for a line that is not a record."""
    return _decoder.decode(line)
