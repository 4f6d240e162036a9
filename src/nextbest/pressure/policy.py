"""What a contact policy means, apart from where contacts are counted.

Compiled once per bundle into per-channel, per-offer lookups: which caps and back-off
markers a ranked offer must pass, and what a feedback event changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from nextbest.pressure.types import Cap, CapCandidate, DeclineCounter, FeedbackEffect

if TYPE_CHECKING:  # the bundle imports this module: no import cycle at run time
    from nextbest.bundle._schema import PolicySpec

__all__ = [
    "ContactPolicies",
    "Outcome",
    "PolicyError",
    "compile_policies",
    "duration_ms",
]

Outcome = Literal["presented", "accepted", "declined", "ignored", "discarded"]
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
SCOPE_PAUSE_SUBJECT = "scope"


class PolicyError(Exception):
    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class _OfferLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def category(self) -> str: ...


def duration_ms(text: str) -> int:
    """`7d` -> 604800000. The pattern is checked by the bundle schema."""
    return int(text[:-1]) * _UNIT_MS[text[-1]]


def _applies(spec: PolicySpec, offer: _OfferLike, channel: str) -> bool:
    """Service activities are exempt unless the scope names them."""
    scope = spec.scope
    if scope.channel is not None and scope.channel != channel:
        return False
    if offer.id in scope.offers:
        return True
    if scope.categories == "non_service":
        return offer.category != "service"
    if scope.categories:
        return offer.category in scope.categories
    return not scope.offers and offer.category != "service"


def _check_kind(position: int, spec: PolicySpec) -> None:
    where = f"policies[{position}]"
    is_cap = spec.limit is not None
    if is_cap:
        if spec.window is None:
            raise PolicyError(f"{where}.window", "a cap (`limit`) needs a `window`")
        if spec.after or spec.pause or spec.declines:
            raise PolicyError(
                where, "a cap (`limit`, `window`) takes no `after`/`pause`/`declines`"
            )
        return
    if spec.after is None or spec.pause is None:
        raise PolicyError(
            where, "a policy is a cap (`limit` + `window`) or a back-off (`after` + `pause`)"
        )
    if spec.declines is not None:
        if spec.after != "declined":
            raise PolicyError(f"{where}.after", "`declines` counts declines: use after: declined")
        if spec.window is None:
            raise PolicyError(f"{where}.window", "`declines` needs the `window` they fall in")
    elif spec.window is not None:
        raise PolicyError(f"{where}.window", "an offer back-off takes `pause`, not `window`")


@dataclass(frozen=True, slots=True)
class _Compiled:
    spec: PolicySpec
    window_ms: int
    pause_ms: int


class ContactPolicies:
    """A bundle's contact policies, laid out per channel and offer."""

    def __init__(
        self, specs: Sequence[PolicySpec], offers: Sequence[_OfferLike], channels: Sequence[str]
    ) -> None:
        self.specs = tuple(specs)
        compiled = [
            _Compiled(
                s,
                duration_ms(s.window) if s.window else 0,
                duration_ms(s.pause) if s.pause else 0,
            )
            for s in specs
        ]
        self._offers = {o.id: o for o in offers}
        self._caps: dict[tuple[str, str], tuple[Cap, ...]] = {}
        self._markers: dict[tuple[str, str], tuple[str, ...]] = {}
        self._candidates: dict[tuple[str, str], CapCandidate] = {}
        self._effects: dict[tuple[str, str, str], tuple[_Compiled, ...]] = {}
        for channel in channels:
            for offer in offers:
                applying = [c for c in compiled if _applies(c.spec, offer, channel)]
                key = (channel, offer.id)
                self._caps[key] = tuple(
                    Cap(c.spec.id, c.spec.limit, c.window_ms)
                    for c in applying
                    if c.spec.limit is not None
                )
                self._markers[key] = tuple(
                    f"{c.spec.id}:{SCOPE_PAUSE_SUBJECT if c.spec.declines else offer.id}"
                    for c in applying
                    if c.spec.after is not None
                )
                self._candidates[key] = CapCandidate(offer.id, self._caps[key], self._markers[key])
                for outcome in ("accepted", "declined"):
                    self._effects[(channel, offer.id, outcome)] = tuple(
                        c for c in applying if c.spec.after == outcome
                    )

    def candidate(self, channel: str, offer_id: str) -> CapCandidate:
        return self._candidates[(channel, offer_id)]

    def needs_check(self, channel: str, offer_id: str) -> bool:
        key = (channel, offer_id)
        return bool(self._caps[key] or self._markers[key])

    def feedback_effect(
        self,
        channel: str,
        offer_id: str,
        outcome: Outcome,
        contact: str,
        idempotency_key: str,
    ) -> FeedbackEffect:
        """What `outcome` for the contact `<decision id>:<offer id>` changes."""
        key = (channel, offer_id)
        if outcome == "discarded":
            return FeedbackEffect(
                idempotency_key, contact, release_from=tuple(c.policy_id for c in self._caps[key])
            )
        backoffs = self._effects.get((channel, offer_id, outcome), ())
        return FeedbackEffect(
            idempotency_key,
            contact,
            set_markers=tuple(
                (f"{c.spec.id}:{offer_id}", c.pause_ms) for c in backoffs if not c.spec.declines
            ),
            count_declines=tuple(
                DeclineCounter(
                    c.spec.id,
                    c.window_ms,
                    c.spec.declines,
                    f"{c.spec.id}:{SCOPE_PAUSE_SUBJECT}",
                    c.pause_ms,
                )
                for c in backoffs
                if c.spec.declines
            ),
        )


def compile_policies(
    specs: Sequence[PolicySpec], offers: Sequence[_OfferLike], channels: Sequence[str]
) -> ContactPolicies:
    """Check each policy's kind and lay the policies out; PolicyError names the field."""
    for position, spec in enumerate(specs):
        _check_kind(position, spec)
    return ContactPolicies(specs, offers, channels)
