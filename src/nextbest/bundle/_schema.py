"""Wire shapes of the bundle files, as msgspec Structs (decoded strictly from YAML/JSON)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from nextbest.fields import Category

__all__ = [
    "AttributeKind",
    "BundleFile",
    "Category",
    "ContextWeightsFile",
    "ManifestFile",
    "ModelInputSpec",
    "ModelSpec",
    "ModelsFile",
    "OfferSpec",
    "OffersFile",
    "RuleSpec",
    "RulesFile",
    "Selector",
    "ValueSpec",
    "Vocabulary",
]

AttributeKind = Literal["number", "string", "boolean", "string_list"]
Identifier = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]


class _Spec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    pass


class Vocabulary(_Spec, frozen=True):
    channels: Annotated[list[Identifier], msgspec.Meta(min_length=1)]
    call_reasons: list[Identifier] = []
    lifecycle_stages: list[Identifier] = []


class ValueSpec(_Spec, frozen=True):
    clv_share: dict[Category, NonNegative] = {}


class BundleFile(_Spec, frozen=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    version: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    vocabulary: Vocabulary
    description: str = ""
    customer_attributes: dict[Identifier, AttributeKind] = {}
    context_attributes: dict[Identifier, AttributeKind] = {}
    value: ValueSpec = ValueSpec()


class OfferSpec(_Spec, frozen=True):
    id: Identifier
    name: Annotated[str, msgspec.Meta(min_length=1)]
    category: Category
    channels: Annotated[list[Identifier], msgspec.Meta(min_length=1)]
    value: float
    lever: NonNegative = 1.0
    product: str | None = None
    tags: list[Identifier] = []
    model: str | None = None
    propensity: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    treatment: dict[str, str] = {}


class OffersFile(_Spec, frozen=True):
    offers: Annotated[list[OfferSpec], msgspec.Meta(min_length=1)]


class Selector(_Spec, frozen=True):
    offers: list[Identifier] = []
    categories: list[Category] = []
    tags: list[Identifier] = []


class RuleSpec(_Spec, frozen=True):
    id: Identifier
    when: Annotated[str, msgspec.Meta(min_length=1)]
    then: Literal["drop", "require", "pin", "boost"]
    applies_to: Selector | None = None
    factor: Positive | None = None
    description: str = ""


class RulesFile(_Spec, frozen=True):
    rules: list[RuleSpec] = []


ContextWeightsFile = dict[Identifier, dict[Identifier, dict[Identifier, NonNegative]]]


class ModelInputSpec(_Spec, frozen=True):
    name: Annotated[str, msgspec.Meta(min_length=1)]
    source: Annotated[str, msgspec.Meta(min_length=1)]
    kind: Literal["numeric", "categorical"]


class ModelSpec(_Spec, frozen=True):
    id: Identifier
    file: Annotated[str, msgspec.Meta(min_length=1)]
    inputs: Annotated[list[ModelInputSpec], msgspec.Meta(min_length=1)]
    output: str = "probabilities"
    training: dict[str, float | int | str] = {}


class ModelsFile(_Spec, frozen=True):
    models: list[ModelSpec] = []


class ManifestFile(_Spec, frozen=True):
    name: str
    version: str
    files: dict[str, Annotated[str, msgspec.Meta(pattern=r"^sha256:[0-9a-f]{64}$")]]
