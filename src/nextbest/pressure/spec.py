"""The shape of `policies.yaml`: three kinds of contact policy, one Struct each.

A policy may name its kind (`kind: cap | backoff | pause`); without it the kind is told
by its fields (`limit` makes a cap, `declines` a scope pause, `after` an offer back-off),
so files written before kinds were named still read the same.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from nextbest.fields import Category

__all__ = [
    "BackoffPolicy",
    "CapPolicy",
    "Duration",
    "PauseAfterDeclines",
    "PoliciesFile",
    "PolicyScope",
    "PolicySpec",
    "with_kinds",
]

Identifier = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Duration = Annotated[str, msgspec.Meta(pattern=r"^[1-9][0-9]*[smhd]$")]


class _Spec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    pass


class PolicyScope(_Spec, frozen=True):
    """Where a policy applies. Service activities are exempt unless the scope names them."""

    channel: Identifier | None = None
    offers: list[Identifier] = []
    categories: list[Category] | Literal["non_service"] | None = None


class _Policy(_Spec, kw_only=True, frozen=True, tag_field="kind"):
    id: Identifier
    scope: PolicyScope = PolicyScope()
    description: str = ""


class CapPolicy(_Policy, kw_only=True, frozen=True, tag="cap"):
    """At most `limit` contacts per rolling `window`."""

    limit: Annotated[int, msgspec.Meta(ge=1)]
    window: Duration


class BackoffPolicy(_Policy, kw_only=True, frozen=True, tag="backoff"):
    """After an outcome, the same offer pauses for `pause`."""

    after: Literal["declined", "accepted"]
    pause: Duration


class PauseAfterDeclines(_Policy, kw_only=True, frozen=True, tag="pause"):
    """`declines` declines within `window` pause every offer of the scope for `pause`."""

    declines: Annotated[int, msgspec.Meta(ge=1)]
    window: Duration
    pause: Duration
    after: Literal["declined"] = "declined"


PolicySpec = CapPolicy | BackoffPolicy | PauseAfterDeclines


class PoliciesFile(_Spec, frozen=True):
    policies: list[PolicySpec] = []


def _kind(policy: dict[str, Any]) -> str:
    if "limit" in policy:
        return "cap"
    if "declines" in policy:
        return "pause"
    return "backoff"


def with_kinds(raw: Any) -> Any:
    """`raw` (parsed YAML) with each policy's `kind` filled in where it is left out."""
    if not isinstance(raw, dict) or not isinstance(raw.get("policies"), list):
        return raw
    policies = [
        {"kind": _kind(p), **p} if isinstance(p, dict) and "kind" not in p else p
        for p in raw["policies"]
    ]
    return {**raw, "policies": policies}
