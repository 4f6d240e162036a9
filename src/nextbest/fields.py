"""The field catalogue: every fact a request or an offer carries, defined once.

A field's dotted path (`customer.clv`, `context.attributes.region`, `offer.tags`) is its
name everywhere: in request facts, in rule conditions, in `models.yaml` sources, in a
training spec's sources and in a history table's columns. Its kind says which values it
holds, and its reader how it is taken from a request (or from an offer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Literal, TypeAlias

__all__ = [
    "CATEGORIES",
    "Category",
    "Field",
    "FieldCatalogue",
    "FieldKind",
    "Root",
    "Value",
    "attribute_path",
    "known_fields",
]

FieldKind: TypeAlias = Literal["number", "string", "boolean", "string_list"]
"""The kind of a field's values."""

Value: TypeAlias = str | int | float | bool | list[str] | None
"""A fact's value; None (or an absent key) is a missing value."""

Category = Literal["upsell", "cross_sell", "retention", "service"]
"""The values of `offer.category`."""
CATEGORIES: tuple[Category, ...] = ("upsell", "cross_sell", "retention", "service")

Root = Literal["customer", "context", "offer"]


@dataclass(frozen=True, slots=True)
class Field:
    """One fact: its path, its kind, and how it is read from its root object (the
    request's `customer` or `context`, or an offer). Declared attributes are read from
    the root's `attributes` mapping by their name."""

    path: str
    kind: FieldKind
    root: Root
    name: str
    attribute: bool = False

    def reader(self) -> Callable[[Any], Value]:
        """Reads this field's value from its root object."""
        if self.attribute:
            name = self.name
            return lambda root: root.attributes.get(name)
        getter: Callable[[Any], Value] = attrgetter(self.name)
        return getter


def _built_in(root: Root, name: str, kind: FieldKind) -> Field:
    return Field(f"{root}.{name}", kind, root, name)


BUILT_IN: tuple[Field, ...] = (
    _built_in("customer", "id", "string"),
    _built_in("customer", "clv", "number"),
    _built_in("customer", "lifecycle_stage", "string"),
    _built_in("context", "channel", "string"),
    _built_in("context", "call_reason", "string"),
    _built_in("context", "wait_time_s", "number"),
    _built_in("context", "placement", "string"),
    _built_in("offer", "id", "string"),
    _built_in("offer", "category", "string"),
    _built_in("offer", "product", "string"),
    _built_in("offer", "tags", "string_list"),
    _built_in("offer", "value", "number"),
    _built_in("offer", "lever", "number"),
)


def attribute_path(root: Root, name: str) -> str:
    return f"{root}.attributes.{name}"


@dataclass(frozen=True, slots=True)
class FieldCatalogue:
    """The built-in fields and a bundle's declared attributes, by path."""

    fields: Mapping[str, Field]

    @classmethod
    def declare(
        cls,
        customer_attributes: Mapping[str, FieldKind],
        context_attributes: Mapping[str, FieldKind],
    ) -> FieldCatalogue:
        fields = {f.path: f for f in BUILT_IN}
        declared: tuple[tuple[Root, Mapping[str, FieldKind]], ...] = (
            ("customer", customer_attributes),
            ("context", context_attributes),
        )
        for root, attributes in declared:
            for name, kind in attributes.items():
                path = attribute_path(root, name)
                fields[path] = Field(path, kind, root, name, attribute=True)
        return cls(fields)

    def kinds(self) -> dict[str, FieldKind]:
        return {path: f.kind for path, f in self.fields.items()}

    def of(self, root: Root, *, attributes: bool | None = None) -> tuple[Field, ...]:
        """The fields read from `root`; with `attributes`, only (or no) declared ones."""
        return tuple(
            f
            for f in self.fields.values()
            if f.root == root and (attributes is None or f.attribute == attributes)
        )

    def attribute_kinds(self, root: Root) -> dict[str, FieldKind]:
        return {f.name: f.kind for f in self.of(root, attributes=True)}


def known_fields(
    customer_attributes: Mapping[str, FieldKind],
    context_attributes: Mapping[str, FieldKind],
) -> dict[str, FieldKind]:
    """Every dotted path a bundle may refer to, with its kind."""
    return FieldCatalogue.declare(customer_attributes, context_attributes).kinds()
