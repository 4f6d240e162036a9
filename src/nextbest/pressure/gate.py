"""The contact-pressure stage of a decision: check and record against the store within a
time budget, and degrade in the documented way when the store cannot answer.

The gate returns what happened as a value; the application logs and counts it.

The budget is the store's to keep (`ContactStore.select(..., budget_s)`), not a timer
around the call: a worker busy with other requests runs its timers before it reads its
sockets, and a timer cancelling the call would throw away a reply that had arrived
while the worker was busy, degrading the answer although the store was fast.

A decision that records contacts and does not get the store's answer (the budget ran
out, the call failed, the request was cancelled) returns none of the offers the store
may have recorded; those contacts are then taken back in the background (`Releaser`),
so that a customer is never capped by offers that were not returned.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import structlog

from nextbest.pressure.breaker import CircuitBreaker, ShardBreakers
from nextbest.pressure.policy import ContactPolicies
from nextbest.pressure.release import Releaser
from nextbest.pressure.store import ContactStore, StoreBusyError, StoreUnavailableError
from nextbest.pressure.types import CapCandidate, FeedbackEffect, Selection

__all__ = ["DegradedMode", "GateResult", "PressureGate"]

DegradedMode = Literal["fail_closed", "fail_open"]
_log = structlog.get_logger("nextbest.pressure")


FEEDBACK_BUDGET_S = 0.05
"""Feedback is not on a decision's path: it waits for the store at least this long."""


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class GateResult:
    selected: tuple[str, ...]
    capped: Mapping[str, str] = field(default_factory=dict)
    """Offer id -> id of the policy that held it back."""
    withheld: tuple[str, ...] = ()
    """Offers held back because the store could not be asked (`fail_closed`)."""
    degraded_mode: DegradedMode | None = None
    """How the answer was made without the store; None when the store answered."""
    store_error: str | None = None
    """Why the store did not answer (the error's class and message), when it was asked."""
    considered: tuple[CapCandidate, ...] = ()
    """Exploring selections only: the candidates the picks chose among, in order (without
    caps when the store was not asked)..."""
    counts: Mapping[str, int] | None = None
    """... and each cap's count before the decision (None: not exploring)."""


def _without_checks(
    policies: ContactPolicies, channel: str, ranked: Sequence[str]
) -> tuple[list[str], tuple[str, ...]]:
    """`fail_closed` without the store: the offers no cap or back-off concerns, in rank
    order, and the others (withheld)."""
    unchecked = [o for o in ranked if not policies.needs_check(channel, o)]
    return unchecked, tuple(o for o in ranked if o not in unchecked)


def _picked(
    ranked: Sequence[str],
    picks: Sequence[float],
    mode: DegradedMode | None,
    error: str | None,
) -> GateResult:
    """The store's exploring walk over offers nothing blocks."""
    left = list(ranked)
    taken = []
    for pick in picks:
        if not left:
            break
        taken.append(left.pop(0 if pick < 0 else min(int(pick * len(left)), len(left) - 1)))
    return GateResult(
        tuple(taken),
        degraded_mode=mode,
        store_error=error,
        considered=tuple(CapCandidate(o) for o in ranked),
        counts={},
    )


class PressureGate:
    """Owns the store for the app's lifetime."""

    def __init__(
        self,
        store: ContactStore,
        *,
        budget_s: float = 0.005,
        degraded_modes: Mapping[str, DegradedMode] | None = None,
        default_mode: DegradedMode = "fail_closed",
        breaker: CircuitBreaker | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
        releaser: Releaser | None = None,
    ) -> None:
        self.store = store
        self._budget_s = budget_s
        self._modes = dict(degraded_modes or {})
        self._default_mode = default_mode
        self.breaker = breaker or CircuitBreaker()
        """The store's breaker (a store in one part; each shard's: `breakers`)."""
        self.breakers = ShardBreakers(self.breaker)
        self.clock_ms = clock_ms
        self.releaser = releaser or Releaser(store)

    async def select(
        self,
        policies: ContactPolicies,
        customer_id: str,
        channel: str,
        decision_id: str,
        ranked: Sequence[str],
        limit: int,
        record: bool,
        picks: Sequence[float] | None = None,
    ) -> GateResult:
        """The first `limit` of `ranked` that the caps allow, recorded as contacts; with
        `picks` (exploring), slot s takes the allowed offer `picks[s]` names (see
        `ContactStore.select`), over the offers the caps allow at that slot."""
        if picks is not None:
            return await self._explore(
                policies, customer_id, channel, decision_id, ranked, record, picks
            )
        if not any(policies.needs_check(channel, offer_id) for offer_id in ranked[:limit]):
            return GateResult(tuple(ranked[:limit]))
        candidates = [policies.candidate(channel, offer_id) for offer_id in ranked]
        selection = await self._ask_store(customer_id, decision_id, candidates, limit, record)
        if isinstance(selection, Selection):
            return GateResult(selection.selected, selection.blocked)
        return self._degraded(policies, channel, ranked, limit, selection)

    async def _ask_store(
        self,
        customer_id: str,
        decision_id: str,
        candidates: Sequence[CapCandidate],
        limit: int,
        record: bool,
        picks: Sequence[float] | None = None,
    ) -> Selection | str | None:
        """The store's selection (`ContactStore.select`) within the budget, through the
        customer's shard breaker; else why there is none: the store's error, or None when
        the breaker is open. Contacts the store may have recorded without answering are
        released in the background."""
        breaker = self.breakers[self.store.shard(customer_id)]
        if not breaker.allow():
            return None
        now_ms = self.clock_ms()
        started = breaker.clock()
        try:
            selection = await self.store.select(
                customer_id,
                decision_id,
                candidates,
                limit,
                now_ms,
                record,
                picks,
                budget_s=self._budget_s,
            )
        except (StoreUnavailableError, TimeoutError) as exc:
            if record:
                self.releaser.submit(customer_id, decision_id, candidates, now_ms)
            if isinstance(exc, StoreBusyError):  # a slot in motion: the server answered
                breaker.succeeded()
            else:
                breaker.failed(started)
            return f"{type(exc).__name__}: {exc}"
        except asyncio.CancelledError:
            if record:
                self.releaser.submit(customer_id, decision_id, candidates, now_ms)
            raise
        breaker.succeeded()
        return selection

    async def _explore(
        self,
        policies: ContactPolicies,
        customer_id: str,
        channel: str,
        decision_id: str,
        ranked: Sequence[str],
        record: bool,
        picks: Sequence[float],
    ) -> GateResult:
        """As `select`, the picks applied where the offers are chosen: in the store when
        any candidate has a cap or back-off, else (and when the store cannot answer) here,
        over the offers the degraded mode lets through."""
        if not any(policies.needs_check(channel, offer_id) for offer_id in ranked):
            return _picked(ranked, picks, None, None)
        candidates = [policies.candidate(channel, offer_id) for offer_id in ranked]
        selection = await self._ask_store(
            customer_id, decision_id, candidates, len(picks), record, picks
        )
        if isinstance(selection, Selection):
            return GateResult(
                selection.selected,
                selection.blocked,
                considered=tuple(candidates),
                counts=selection.counts or {},
            )
        mode = self._modes.get(channel, self._default_mode)
        if mode == "fail_open":
            return _picked(ranked, picks, mode, selection)
        unchecked, withheld = _without_checks(policies, channel, ranked)
        result = _picked(unchecked, picks, mode, selection)
        return dataclasses.replace(result, withheld=withheld)

    def _degraded(
        self,
        policies: ContactPolicies,
        channel: str,
        ranked: Sequence[str],
        limit: int,
        error: str | None,
    ) -> GateResult:
        mode = self._modes.get(channel, self._default_mode)
        if mode == "fail_open":
            return GateResult(tuple(ranked[:limit]), degraded_mode=mode, store_error=error)
        unchecked, withheld = _without_checks(policies, channel, ranked)
        return GateResult(
            tuple(unchecked[:limit]), withheld=withheld, degraded_mode=mode, store_error=error
        )

    async def feedback(self, customer_id: str, effect: FeedbackEffect, now_ms: int) -> bool:
        """Apply `effect`; raises StoreUnavailableError when the store did not answer
        within the budget (kept by the store, as for decisions: an answer that reached a
        busy worker late is its real answer, not a 503 for feedback that was applied)."""
        breaker = self.breakers[self.store.shard(customer_id)]
        if not breaker.allow():
            raise StoreUnavailableError("contact store circuit open")
        try:
            applied = await self.store.apply_feedback(
                customer_id, effect, now_ms, budget_s=max(self._budget_s, FEEDBACK_BUDGET_S)
            )
        except (StoreUnavailableError, TimeoutError) as exc:
            breaker.failed()
            raise StoreUnavailableError(str(exc) or type(exc).__name__) from exc
        breaker.succeeded()
        return applied

    async def reachable(self, *, prepare: bool = False, timeout_s: float = 0.05) -> bool:
        """Whether the store answers within max(budget, `timeout_s`) (and, with `prepare`,
        gets ready to answer fast). Never raises."""
        try:
            async with asyncio.timeout(max(self._budget_s, timeout_s)):
                await (self.store.prepare() if prepare else self.store.ping())
        except (StoreUnavailableError, TimeoutError) as exc:
            _log.warning("contact_store_unreachable", error=str(exc) or type(exc).__name__)
            return False
        return True

    async def aclose(self, release_grace_s: float = 1.0) -> None:
        """Finish the pending releases (for up to `release_grace_s`), close the store."""
        await self.releaser.drain(release_grace_s)
        await self.store.aclose()
