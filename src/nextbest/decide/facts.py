"""From a decision request to its facts, through the field catalogue.

Facts are keyed by field path (`customer.clv`, `customer.attributes.owned_products`); a
missing value is absent or None. An attribute sent as JSON null is a missing value, as an
empty cell is in training.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

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
        self._built_in: tuple[tuple[str, Root, Callable[[object], Value]], ...] = tuple(
            (f.path, f.root, f.reader())
            for root in ("customer", "context")
            for f in catalogue.of(root, attributes=False)
        )
        self._declared: dict[Root, Mapping[str, FieldKind]] = {
            "customer": catalogue.attribute_kinds("customer"),
            "context": catalogue.attribute_kinds("context"),
        }

    def facts(self, request: DecisionRequest) -> Facts:
        """Raises InvalidRequestError listing every value the bundle does not know."""
        roots: dict[Root, object] = {"customer": request.customer, "context": request.context}
        facts: Facts = {path: read(roots[root]) for path, root, read in self._built_in}
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
            kind = declared.get(name)
            if kind is None or value is None:
                continue
            if _kind_of(value) != kind:
                problems.append(
                    (f"{root}.attributes.{name}", f"expected a {kind}, got {type(value).__name__}")
                )
            facts[f"{root}.attributes.{name}"] = value
