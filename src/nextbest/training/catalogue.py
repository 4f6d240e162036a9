"""What training reads from a bundle: the offer catalogue and the vocabulary.

Only the fields that shape the training data are kept; the service's bundle loader
owns full validation of ``bundle.yaml`` and ``offers.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CatalogueError", "OfferInfo", "Vocabulary", "load_catalogue"]


class CatalogueError(ValueError):
    """``bundle.yaml`` or ``offers.yaml`` lacks a field training needs, or has it wrong."""


@dataclass(frozen=True, slots=True)
class OfferInfo:
    """An offer as training sees it."""

    id: str
    category: str
    channels: tuple[str, ...]
    tags: tuple[str, ...] = ()
    product: str | None = None


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The closed value sets of the bundle's categorical request fields."""

    channels: tuple[str, ...]
    call_reasons: tuple[str, ...]
    lifecycle_stages: tuple[str, ...]


def _str_tuple(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogueError(f"{where} must be a list of strings")
    return tuple(value)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CatalogueError(f"{where} must be a mapping")
    return value


def load_catalogue(bundle_dir: Path) -> tuple[tuple[OfferInfo, ...], Vocabulary]:
    """Read ``bundle.yaml`` (vocabulary) and ``offers.yaml`` (offers) from ``bundle_dir``."""
    bundle_file = bundle_dir / "bundle.yaml"
    offers_file = bundle_dir / "offers.yaml"
    bundle = _mapping(yaml.safe_load(bundle_file.read_text(encoding="utf-8")), str(bundle_file))
    vocab = _mapping(bundle.get("vocabulary"), f"{bundle_file}: vocabulary")
    vocabulary = Vocabulary(
        channels=_str_tuple(vocab.get("channels"), f"{bundle_file}: vocabulary.channels"),
        call_reasons=_str_tuple(
            vocab.get("call_reasons"), f"{bundle_file}: vocabulary.call_reasons"
        ),
        lifecycle_stages=_str_tuple(
            vocab.get("lifecycle_stages"), f"{bundle_file}: vocabulary.lifecycle_stages"
        ),
    )
    doc = _mapping(yaml.safe_load(offers_file.read_text(encoding="utf-8")), str(offers_file))
    raw_offers = doc.get("offers")
    if not isinstance(raw_offers, list) or not raw_offers:
        raise CatalogueError(f"{offers_file}: offers must be a non-empty list")
    offers: list[OfferInfo] = []
    for i, raw in enumerate(raw_offers):
        where = f"{offers_file}: offers[{i}]"
        item = _mapping(raw, where)
        offer_id, category = item.get("id"), item.get("category")
        if not isinstance(offer_id, str) or not isinstance(category, str):
            raise CatalogueError(f"{where}: id and category must be strings")
        product = item.get("product")
        if product is not None and not isinstance(product, str):
            raise CatalogueError(f"{where}: product must be a string")
        offers.append(
            OfferInfo(
                id=offer_id,
                category=category,
                channels=_str_tuple(item.get("channels"), f"{where}.channels"),
                tags=_str_tuple(item.get("tags", []), f"{where}.tags"),
                product=product,
            )
        )
    return tuple(offers), vocabulary
