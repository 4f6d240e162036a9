"""From a decision request to its facts, through the field catalogue.

Facts are keyed by field path (`customer.clv`, `customer.attributes.owned_products`); a
missing value is absent or None. An attribute sent as JSON null is a missing value, as an
empty cell is in training.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter

from nextbest.bundle import Bundle
from nextbest.decide.types import AttributeValue, DecisionRequest
from nextbest.decide.values import Facts
from nextbest.errors import InvalidRequestError
from nextbest.fields import FieldKind, Root, Value

__all__ = ["RequestReader"]


def _kind_of(value: AttributeValue) -> FieldKind:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "string_list"


_KINDS: dict[type, FieldKind] = {
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "string_list",
}
"""The kinds of values of the types msgspec decodes (others: `_kind_of`)."""

_ROOTS: tuple[Root, Root] = ("customer", "context")


class RequestReader:
    """Checks a request against the bundle's vocabulary and declared attributes and reads
    its facts. Built once per bundle."""

    def __init__(self, bundle: Bundle) -> None:
        vocabulary = bundle.vocabulary
        self._allowed: tuple[tuple[str, frozenset[str]], ...] = (
            ("context.channel", frozenset(vocabulary.channels)),
            ("context.call_reason", frozenset(vocabulary.call_reasons)),
            ("customer.lifecycle_stage", frozenset(vocabulary.lifecycle_stages)),
        )
        catalogue = bundle.fields
        built_in = [f for root in _ROOTS for f in catalogue.of(root, attributes=False)]
        self._paths = tuple(f.path for f in built_in)
        # a built-in field is an attribute of its root (Field.reader): all read in one call
        self._read_built_in: Callable[[DecisionRequest], tuple[Value, ...]] = attrgetter(
            *(f"{f.root}.{f.name}" for f in built_in)
        )
        self._declared: dict[Root, Mapping[str, tuple[FieldKind, str]]] = {
            root: {f.name: (f.kind, f.path) for f in catalogue.of(root, attributes=True)}
            for root in _ROOTS
        }

    def facts(self, request: DecisionRequest) -> Facts:
        """Raises InvalidRequestError listing every value the bundle does not know."""
        facts: Facts = dict(zip(self._paths, self._read_built_in(request), strict=True))
        problems: list[tuple[str, str]] = []
        for path, allowed in self._allowed:
            value = facts[path]
            if value is not None and value not in allowed:
                problems.append(
                    (path, f"unknown value {value!r}; allowed: {', '.join(sorted(allowed))}")
                )
        if request.customer.attributes:
            self._attributes("customer", request.customer.attributes, facts, problems)
        if request.context.attributes:
            self._attributes("context", request.context.attributes, facts, problems)
        if problems:
            raise InvalidRequestError(*problems[0], more=problems[1:])
        return facts

    def _attributes(
        self,
        root: Root,
        given: Mapping[str, AttributeValue | None],
        facts: Facts,
        problems: list[tuple[str, str]],
    ) -> None:
        declared = self._declared[root]
        for name, value in given.items():
            field = declared.get(name)
            if field is None or value is None:
                continue
            kind, path = field
            if _KINDS.get(type(value)) != kind and _kind_of(value) != kind:
                problems.append((path, f"expected a {kind}, got {type(value).__name__}"))
            facts[path] = value
