"""The contact store interface: one implementation per backend, the same behaviour suite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from nextbest.pressure.types import CapCandidate, FeedbackEffect, Selection

__all__ = ["ContactStore", "StoreBusyError", "StoreUnavailableError"]


class StoreUnavailableError(Exception):
    """The store could not answer (connection refused, timed out, ...)."""


class StoreBusyError(StoreUnavailableError):
    """The store answered but could not run the call yet (a Redis Cluster slot being
    migrated): the call did not run, and the store is not failing."""


class ContactStore(Protocol):
    """Counts contacts per customer. Every call is atomic for one customer: two decisions
    racing for the same customer can never together exceed a cap."""

    async def select(
        self,
        customer_id: str,
        contact_prefix: str,
        candidates: Sequence[CapCandidate],
        limit: int,
        now_ms: int,
        record: bool,
        picks: Sequence[float] | None = None,
        budget_s: float | None = None,
    ) -> Selection:
        """Walk `candidates` in order; take an offer when no back-off marker is set and
        every cap still has room (counting the offers taken earlier in this call); stop at
        `limit`. With `record`, each taken offer is recorded as the contact
        `<contact_prefix>:<offer id>` in the window of each of its caps.

        With `picks` (exploration), slot s instead takes, among the candidates not taken
        that are allowed now (in order), the first when `picks[s]` < 0, else the one at
        position floor(picks[s] x their number); it stops after `len(picks)` slots or when
        none is allowed. `blocked` then names every candidate not taken that is blocked
        after the last slot, and `counts` gives every cap's count before the call, so that
        the caller can replay the selection for other picks.

        With `budget_s`, a store reached over the network waits about that long for its
        answer, then raises StoreUnavailableError (or TimeoutError); an answer that has
        reached this process by then is taken, however late the process gets to it."""
        ...

    async def release(
        self,
        customer_id: str,
        contact_prefix: str,
        candidates: Sequence[CapCandidate],
        now_ms: int,
    ) -> int:
        """Take back every contact `select` may have recorded for `contact_prefix` (a
        decision whose answer was given up), whether that select ran before, runs after
        or never runs: a select with that prefix arriving later records nothing. Doing it
        again changes nothing. Returns the number of contacts removed."""
        ...

    async def apply_feedback(
        self,
        customer_id: str,
        effect: FeedbackEffect,
        now_ms: int,
        budget_s: float | None = None,
    ) -> bool:
        """Apply `effect` once. Returns False when its idempotency key was seen before.
        `budget_s` as for `select`."""
        ...

    def shard(self, customer_id: str) -> str:
        """The part of the store that holds the customer's counts ("" when there is one
        part): the customers of a part that fails are the only ones whose decisions
        degrade."""
        ...

    async def ping(self) -> None:
        """Raise StoreUnavailableError when the store cannot be reached."""
        ...

    async def prepare(self) -> None:
        """Get ready to answer fast (connect, load scripts); raise StoreUnavailableError
        when the store cannot be reached."""
        ...

    async def aclose(self) -> None: ...
