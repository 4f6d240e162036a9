"""What a contact store is asked and what it answers: small typed values, no policy logic.

The policy layer (`nextbest.pressure.policy`) turns a bundle's contact policies into these
values; a store only counts and remembers, atomically per customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Cap", "CapCandidate", "DeclineCounter", "FeedbackEffect", "Selection"]


@dataclass(frozen=True, slots=True)
class Cap:
    """At most `limit` contacts in the rolling `window_ms` for the policy `policy_id`."""

    policy_id: str
    limit: int
    window_ms: int


@dataclass(frozen=True, slots=True)
class CapCandidate:
    """One ranked offer as the store sees it.

    `caps`: the count policies that apply to it on this channel. `backoffs`: back-off
    markers (`<policy id>:<subject>`) any of which, while set, blocks it.
    """

    offer_id: str
    caps: tuple[Cap, ...] = ()
    backoffs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Selection:
    """The offers that passed, in rank order, and the blocked ones with the blocking policy."""

    selected: tuple[str, ...]
    blocked: Mapping[str, str] = field(default_factory=dict)
    counts: Mapping[str, int] | None = None
    """Exploring selections only (`picks`): each cap's contacts in its window before this
    call, by policy id, for every cap of the candidates."""


@dataclass(frozen=True, slots=True)
class DeclineCounter:
    """Count declines in a rolling window; at `threshold`, set `pause_marker` for `pause_ms`."""

    policy_id: str
    window_ms: int
    threshold: int
    pause_marker: str
    pause_ms: int


@dataclass(frozen=True, slots=True)
class FeedbackEffect:
    """What one feedback event changes in the store, applied once per `idempotency_key`."""

    idempotency_key: str
    contact: str
    """The contact member the decision recorded: `<decision id>:<offer id>`."""
    release_from: tuple[str, ...] = ()
    """Policy ids whose window loses `contact` (outcome `discarded`)."""
    set_markers: tuple[tuple[str, int], ...] = ()
    """Back-off markers to set, with their lifetime in ms."""
    count_declines: tuple[DeclineCounter, ...] = ()
    dedupe_ms: int = 30 * 86_400_000
