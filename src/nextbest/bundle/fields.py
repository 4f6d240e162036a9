"""The fields a rule or a model input may name, and their kinds."""

from __future__ import annotations

from collections.abc import Mapping

from nextbest.rules import FieldKind

__all__ = ["REQUEST_ROOTS", "FieldKind", "known_fields"]

REQUEST_ROOTS = ("customer", "context")

_BUILT_IN: dict[str, FieldKind] = {
    "customer.id": "string",
    "customer.clv": "number",
    "customer.lifecycle_stage": "string",
    "context.channel": "string",
    "context.call_reason": "string",
    "context.wait_time_s": "number",
    "context.placement": "string",
    "offer.id": "string",
    "offer.category": "string",
    "offer.product": "string",
    "offer.tags": "string_list",
    "offer.value": "number",
    "offer.lever": "number",
}


def known_fields(
    customer_attributes: Mapping[str, FieldKind],
    context_attributes: Mapping[str, FieldKind],
) -> dict[str, FieldKind]:
    """Every dotted path a bundle may refer to, with the declared attributes added."""
    fields = dict(_BUILT_IN)
    fields.update({f"customer.attributes.{k}": v for k, v in customer_attributes.items()})
    fields.update({f"context.attributes.{k}": v for k, v in context_attributes.items()})
    return fields
