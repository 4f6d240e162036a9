"""From a decision request to the flat facts that rules and models read.

Facts are keyed by dotted path (`customer.clv`, `customer.attributes.owned_products`);
absent values are absent keys.
"""

from __future__ import annotations

from collections.abc import Mapping

from nextbest.bundle import Bundle, FieldKind
from nextbest.decide.errors import InvalidRequestError
from nextbest.decide.types import AttributeValue, DecisionRequest
from nextbest.rules import Value

__all__ = ["Facts", "RequestChecker"]

Facts = dict[str, Value]


def _kind_of(value: AttributeValue) -> FieldKind:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "string_list"


class RequestChecker:
    """Checks a request against the bundle's vocabulary and declared attributes and turns
    it into facts. Built once per bundle."""

    def __init__(self, bundle: Bundle) -> None:
        vocabulary = bundle.vocabulary
        self._channels = frozenset(vocabulary.channels)
        self._call_reasons = frozenset(vocabulary.call_reasons)
        self._stages = frozenset(vocabulary.lifecycle_stages)
        self._allowed = {
            "context.channel": sorted(self._channels),
            "context.call_reason": sorted(self._call_reasons),
            "customer.lifecycle_stage": sorted(self._stages),
        }
        self._customer_attributes = dict(bundle.customer_attributes)
        self._context_attributes = dict(bundle.context_attributes)

    def _refuse(self, field: str, value: str) -> InvalidRequestError:
        return InvalidRequestError(
            field, f"unknown value {value!r}; allowed: {', '.join(self._allowed[field])}"
        )

    @staticmethod
    def _attributes(
        root: str,
        given: Mapping[str, AttributeValue],
        declared: Mapping[str, FieldKind],
        facts: Facts,
    ) -> None:
        for name, value in given.items():
            kind = declared.get(name)
            if kind is None:
                continue
            if _kind_of(value) != kind:
                raise InvalidRequestError(
                    f"{root}.attributes.{name}", f"expected a {kind}, got {type(value).__name__}"
                )
            facts[f"{root}.attributes.{name}"] = value

    def facts(self, request: DecisionRequest) -> Facts:
        customer, context = request.customer, request.context
        if context.channel not in self._channels:
            raise self._refuse("context.channel", context.channel)
        if context.call_reason is not None and context.call_reason not in self._call_reasons:
            raise self._refuse("context.call_reason", context.call_reason)
        stage = customer.lifecycle_stage
        if stage is not None and stage not in self._stages:
            raise self._refuse("customer.lifecycle_stage", stage)
        facts: Facts = {
            "customer.id": customer.id,
            "customer.clv": customer.clv,
            "customer.lifecycle_stage": stage,
            "context.channel": context.channel,
            "context.call_reason": context.call_reason,
            "context.wait_time_s": context.wait_time_s,
            "context.placement": context.placement,
        }
        if customer.attributes:
            self._attributes("customer", customer.attributes, self._customer_attributes, facts)
        if context.attributes:
            self._attributes("context", context.attributes, self._context_attributes, facts)
        return facts
