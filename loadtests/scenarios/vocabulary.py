"""The served bundle's vocabulary, read from its YAML files.

Channels, call reasons, lifecycle stages, declared attributes and the catalogue (offer
id, category, product) come from the bundle, so that the load profiles send only values
the service accepts and follow the bundle when it changes. The *shares* of call reasons
and stages are not in a bundle (it says what may happen, not how often); they live in
`calls.py` and `customers.py`, with a neutral weight for any value they do not name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DEMO_BUNDLE", "Vocabulary", "load_vocabulary"]

DEMO_BUNDLE = Path(__file__).resolve().parents[2] / "models" / "demo-energy"


@dataclass(frozen=True)
class Vocabulary:
    channels: tuple[str, ...]
    call_reasons: tuple[str, ...]
    lifecycle_stages: tuple[str, ...]
    customer_attributes: dict[str, str]
    """Declared attribute name -> kind (number, string, boolean, string_list)."""
    context_attributes: dict[str, str]
    categories: dict[str, str]
    """Offer id -> category (upsell, cross_sell, retention, service)."""
    products: tuple[str, ...]
    """What customers can own: the catalogue's `product` values."""

    def require_channel(self, channel: str) -> str:
        if channel not in self.channels:
            raise ValueError(
                f"the bundle has no channel {channel!r}; its channels: {', '.join(self.channels)}"
            )
        return channel


def _read(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_vocabulary(bundle_dir: Path = DEMO_BUNDLE) -> Vocabulary:
    """The vocabulary of the bundle in `bundle_dir` (bundle.yaml and offers.yaml)."""
    bundle = _read(bundle_dir / "bundle.yaml")
    offers = _read(bundle_dir / "offers.yaml")["offers"]
    words = bundle["vocabulary"]
    return Vocabulary(
        channels=tuple(words["channels"]),
        call_reasons=tuple(words.get("call_reasons") or ()),
        lifecycle_stages=tuple(words.get("lifecycle_stages") or ()),
        customer_attributes=dict(bundle.get("customer_attributes") or {}),
        context_attributes=dict(bundle.get("context_attributes") or {}),
        categories={o["id"]: o["category"] for o in offers},
        products=tuple(sorted({o["product"] for o in offers if o.get("product")})),
    )
