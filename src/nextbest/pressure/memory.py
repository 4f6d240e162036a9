"""The embedded contact store: in-process, for one server process.

Atomic per customer because every operation runs to completion without awaiting
anything. State expires by itself: each entry carries its expiry time, a customer's
entries are pruned whenever the customer is touched, and every operation also prunes a
few other customers in turn (`sweep_per_operation`), so that customers who never come
back are forgotten without a pause: a pass over every customer at once would stop
the process for tens of milliseconds per ten thousand customers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from nextbest.pressure.types import CapCandidate, FeedbackEffect, Selection

__all__ = ["MemoryContactStore"]


@dataclass(slots=True)
class _Customer:
    windows: dict[str, dict[str, int]] = field(default_factory=dict)
    """policy id -> contact -> expiry (ms)."""
    markers: dict[str, int] = field(default_factory=dict)
    """back-off marker -> expiry (ms)."""
    declines: dict[str, dict[str, int]] = field(default_factory=dict)
    """policy id -> feedback key -> expiry (ms)."""
    seen: dict[str, int] = field(default_factory=dict)
    """feedback idempotency key -> expiry (ms)."""

    def prune(self, now_ms: int) -> bool:
        """Drop expired entries; True when nothing is left."""
        for table in (*self.windows.values(), *self.declines.values(), self.markers, self.seen):
            for key in [k for k, expiry in table.items() if expiry <= now_ms]:
                del table[key]
        self.windows = {k: v for k, v in self.windows.items() if v}
        self.declines = {k: v for k, v in self.declines.items() if v}
        return not (self.windows or self.markers or self.declines or self.seen)


class MemoryContactStore:
    """ContactStore kept in this process's memory."""

    def __init__(self, sweep_per_operation: int = 2) -> None:
        self._customers: dict[str, _Customer] = {}
        self._sweep_per_operation = sweep_per_operation
        self._sweep_queue: list[str] = []

    def __len__(self) -> int:
        """Customers with live state."""
        return len(self._customers)

    def _customer(self, customer_id: str, now_ms: int) -> _Customer:
        self._sweep_some(now_ms)
        customer = self._customers.get(customer_id)
        if customer is None:
            customer = self._customers[customer_id] = _Customer()
        else:
            customer.prune(now_ms)
        return customer

    def _forget_if_empty(self, customer_id: str, customer: _Customer) -> None:
        if not (customer.windows or customer.markers or customer.declines or customer.seen):
            self._customers.pop(customer_id, None)

    def _sweep_some(self, now_ms: int) -> None:
        """Prune the next few customers of the current pass; a new pass starts with the
        customers there are when the last one ends."""
        queue = self._sweep_queue
        if not queue:
            queue.extend(self._customers)
            queue.reverse()
        for _ in range(min(self._sweep_per_operation, len(queue))):
            customer_id = queue.pop()
            state = self._customers.get(customer_id)
            if state is not None and state.prune(now_ms):
                del self._customers[customer_id]

    def sweep(self, now_ms: int) -> None:
        """Drop every expired entry and every customer left with none."""
        for customer_id in [c for c, state in self._customers.items() if state.prune(now_ms)]:
            del self._customers[customer_id]

    async def select(
        self,
        customer_id: str,
        contact_prefix: str,
        candidates: Sequence[CapCandidate],
        limit: int,
        now_ms: int,
        record: bool,
    ) -> Selection:
        customer = self._customer(customer_id, now_ms)
        taken: list[str] = []
        blocked: dict[str, str] = {}
        extra: dict[str, int] = {}
        for candidate in candidates:
            if len(taken) >= limit:
                break
            marker = next((m for m in candidate.backoffs if m in customer.markers), None)
            if marker is not None:
                blocked[candidate.offer_id] = marker.partition(":")[0]
                continue
            full = next(
                (
                    cap
                    for cap in candidate.caps
                    if len(customer.windows.get(cap.policy_id, ())) + extra.get(cap.policy_id, 0)
                    >= cap.limit
                ),
                None,
            )
            if full is not None:
                blocked[candidate.offer_id] = full.policy_id
                continue
            taken.append(candidate.offer_id)
            for cap in candidate.caps:
                if record:
                    window = customer.windows.setdefault(cap.policy_id, {})
                    window[f"{contact_prefix}:{candidate.offer_id}"] = now_ms + cap.window_ms
                else:
                    extra[cap.policy_id] = extra.get(cap.policy_id, 0) + 1
        self._forget_if_empty(customer_id, customer)
        return Selection(tuple(taken), blocked)

    async def apply_feedback(self, customer_id: str, effect: FeedbackEffect, now_ms: int) -> bool:
        customer = self._customer(customer_id, now_ms)
        if effect.idempotency_key in customer.seen:
            return False
        customer.seen[effect.idempotency_key] = now_ms + effect.dedupe_ms
        for policy_id in effect.release_from:
            customer.windows.get(policy_id, {}).pop(effect.contact, None)
        for marker, lifetime_ms in effect.set_markers:
            customer.markers[marker] = max(customer.markers.get(marker, 0), now_ms + lifetime_ms)
        for counter in effect.count_declines:
            declines = customer.declines.setdefault(counter.policy_id, {})
            declines[effect.idempotency_key] = now_ms + counter.window_ms
            if len(declines) >= counter.threshold:
                customer.markers[counter.pause_marker] = now_ms + counter.pause_ms
                declines.clear()
        return True

    async def ping(self) -> None:
        return None

    async def prepare(self) -> None:
        return None

    async def aclose(self) -> None:
        self._customers.clear()
