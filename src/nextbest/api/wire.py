"""Wire types of the read-only routes (decisions use `nextbest.decide.types`)."""

from __future__ import annotations

from datetime import datetime

import msgspec

__all__ = ["BundleInfo", "Health", "OfferInfo", "OffersPage"]


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


class Health(_Out, frozen=True, omit_defaults=True):
    status: str
    bundle_version: str | None = None
