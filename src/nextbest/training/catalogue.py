"""What training reads from a bundle: the offer catalogue and the vocabulary.

Both files are read and validated by the bundle loader's own readers; training keeps only
the fields that shape the training data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nextbest.bundle.files import read_bundle_file, read_offers_file

__all__ = ["OfferInfo", "Vocabulary", "load_catalogue"]


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


def load_catalogue(bundle_dir: Path) -> tuple[tuple[OfferInfo, ...], Vocabulary]:
    """Read ``bundle.yaml`` (vocabulary) and ``offers.yaml`` (offers) from ``bundle_dir``.

    Raises BundleError naming the file and field when either is invalid.
    """
    vocabulary = read_bundle_file(bundle_dir).vocabulary
    offers = tuple(
        OfferInfo(
            id=o.id,
            category=o.category,
            channels=tuple(o.channels),
            tags=tuple(o.tags),
            product=o.product,
        )
        for o in read_offers_file(bundle_dir).offers
    )
    return offers, Vocabulary(
        channels=tuple(vocabulary.channels),
        call_reasons=tuple(vocabulary.call_reasons),
        lifecycle_stages=tuple(vocabulary.lifecycle_stages),
    )
