"""What a contact policy means, apart from where contacts are counted.

Compiled once per bundle into per-channel, per-offer lookups: which caps and back-off
markers a ranked offer must pass, and what a feedback event changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from nextbest.errors import BundleError
from nextbest.pressure.spec import (
    BackoffPolicy,
    CapPolicy,
    PauseAfterDeclines,
    PoliciesFile,
    PolicySpec,
    with_kinds,
)
from nextbest.pressure.types import Cap, CapCandidate, DeclineCounter, FeedbackEffect
from nextbest.validation import convert_strict, refuse_duplicates
from nextbest.yaml_file import parse_yaml

__all__ = [
    "POLICIES_FILE",
    "ContactPolicies",
    "Outcome",
    "compile_policies",
    "duration_ms",
    "read_policies",
]

POLICIES_FILE = "policies.yaml"

Outcome = Literal["presented", "accepted", "declined", "ignored", "discarded"]
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
SCOPE_PAUSE_SUBJECT = "scope"


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
        compiled = [_compile(s) for s in specs]
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
                    if isinstance(c.spec, CapPolicy)
                )
                self._markers[key] = tuple(
                    f"{c.spec.id}:{_marker_subject(c.spec, offer.id)}"
                    for c in applying
                    if not isinstance(c.spec, CapPolicy)
                )
                self._candidates[key] = CapCandidate(offer.id, self._caps[key], self._markers[key])
                for outcome in ("accepted", "declined"):
                    self._effects[(channel, offer.id, outcome)] = tuple(
                        c for c in applying if getattr(c.spec, "after", None) == outcome
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
                (f"{c.spec.id}:{offer_id}", c.pause_ms)
                for c in backoffs
                if isinstance(c.spec, BackoffPolicy)
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
                if isinstance(c.spec, PauseAfterDeclines)
            ),
        )


def _compile(spec: PolicySpec) -> _Compiled:
    window = spec.window if isinstance(spec, CapPolicy | PauseAfterDeclines) else None
    pause = spec.pause if isinstance(spec, BackoffPolicy | PauseAfterDeclines) else None
    return _Compiled(
        spec,
        duration_ms(window) if window else 0,
        duration_ms(pause) if pause else 0,
    )


def _marker_subject(spec: PolicySpec, offer_id: str) -> str:
    return SCOPE_PAUSE_SUBJECT if isinstance(spec, PauseAfterDeclines) else offer_id


def _check_scopes(
    specs: Sequence[PolicySpec], offers: Sequence[_OfferLike], channels: Sequence[str]
) -> None:
    refuse_duplicates((s.id for s in specs), POLICIES_FILE, "policies", "policy")
    ids = {o.id for o in offers}
    for position, spec in enumerate(specs):
        where = f"policies[{position}].scope"
        unknown = sorted(set(spec.scope.offers) - ids)
        if unknown:
            raise BundleError(POLICIES_FILE, f"{where}.offers", f"unknown offers {unknown}")
        if spec.scope.channel is not None and spec.scope.channel not in channels:
            raise BundleError(
                POLICIES_FILE, f"{where}.channel", f"unknown channel {spec.scope.channel!r}"
            )


def compile_policies(
    specs: Sequence[PolicySpec], offers: Sequence[_OfferLike], channels: Sequence[str]
) -> ContactPolicies:
    """Check the policies' scopes against the catalogue and lay them out; a BundleError
    names the field."""
    _check_scopes(specs, offers, channels)
    return ContactPolicies(specs, offers, channels)


def read_policies(
    data: bytes | None, offers: Sequence[_OfferLike], channels: Sequence[str]
) -> ContactPolicies:
    """The policies in the bytes of `policies.yaml` (None: the file is absent)."""
    raw = None if data is None else parse_yaml(data, POLICIES_FILE)
    spec = (
        PoliciesFile()
        if raw is None
        else convert_strict(with_kinds(raw), PoliciesFile, POLICIES_FILE)
    )
    return compile_policies(spec.policies, offers, channels)
