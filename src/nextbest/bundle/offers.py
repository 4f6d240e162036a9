"""The offer catalogue: `offers.yaml` checked against the vocabulary and the models."""

from __future__ import annotations

from collections.abc import Sequence, Set
from typing import Protocol, cast

from nextbest.bundle._schema import OffersFile, OfferSpec, Vocabulary
from nextbest.bundle.bundle import Offer
from nextbest.bundle.files import MODELS_FILE, OFFERS_FILE
from nextbest.errors import BundleError
from nextbest.fields import BUILT_IN, Value
from nextbest.validation import refuse_duplicates

__all__ = ["OfferFields", "compile_offers", "offer_facts"]

_OFFER_FIELDS = tuple((f.path, f.reader()) for f in BUILT_IN if f.root == "offer")


class OfferFields(Protocol):
    """What the catalogue reads from an offer: a loaded `Offer` or its `OfferSpec`."""

    @property
    def id(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def product(self) -> str | None: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def value(self) -> float: ...
    @property
    def lever(self) -> float: ...


def offer_facts(offer: OfferFields) -> dict[str, Value]:
    """The offer's facts by field path, read through the field catalogue (a tuple, such
    as the tags, as the list the rules compare with)."""
    facts: dict[str, Value] = {}
    for path, read in _OFFER_FIELDS:
        value: object = read(offer)
        facts[path] = [str(v) for v in value] if isinstance(value, tuple) else cast(Value, value)
    return facts


def compile_offers(
    spec: OffersFile, vocabulary: Vocabulary, model_ids: Set[str]
) -> tuple[Offer, ...]:
    refuse_duplicates((o.id for o in spec.offers), OFFERS_FILE, "offers", "offer")
    channels = set(vocabulary.channels)
    offers = []
    for index, o in enumerate(spec.offers):
        where = f"offers[{index}]"
        unknown = sorted(set(o.channels) - channels)
        if unknown:
            raise BundleError(
                OFFERS_FILE,
                f"{where}.channels",
                f"unknown channels {unknown} for {o.id!r}; vocabulary has {sorted(channels)}",
            )
        _check_propensity_source(o, where, model_ids)
        offers.append(
            Offer(
                index=index,
                id=o.id,
                name=o.name,
                category=o.category,
                channels=frozenset(o.channels),
                value=o.value,
                lever=o.lever,
                product=o.product,
                tags=tuple(o.tags),
                model=o.model,
                fixed_propensity=o.propensity,
                treatment=dict(o.treatment),
            )
        )
    return tuple(offers)


def _check_propensity_source(o: OfferSpec, where: str, model_ids: Set[str]) -> None:
    if (o.model is None) == (o.propensity is None):
        raise BundleError(
            OFFERS_FILE, where, f"offer {o.id!r} needs exactly one of `model` or `propensity`"
        )
    if o.model is not None and o.model not in model_ids:
        raise BundleError(
            OFFERS_FILE,
            f"{where}.model",
            f"unknown model {o.model!r}; {MODELS_FILE} has {sorted(model_ids)}",
        )
