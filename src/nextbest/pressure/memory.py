"""The embedded contact store: in-process, for one server process.

Atomic per customer because every operation runs to completion without awaiting
anything. Each entry carries its expiry time and counts while its expiry is after the
operation's time, which for feedback is when the event occurred (it may be back-dated).
An operation drops expired entries only where the Redis scripts do, so that both stores
give the same answers to back-dated events: a select drops the window entries it
counts, a feedback the declines of the counters it counts on, each at the operation's
own time; a back-off, a seen event or a cancellation is compared with that time, not
dropped. Everything else expires by itself as a Redis key's TTL does: every operation
prunes a few other customers in turn (`sweep_per_operation`), so that customers who never
come back are forgotten without a pause: a pass over every customer at once would stop
the process for tens of milliseconds per ten thousand customers.

A customer's state is one flat dict of string keys and integer expiry times, which the
garbage collector does not track: the collector's full passes then cost one visit per
customer rather than walking nested containers (at 40,000 customers with nested dicts,
a pass took 10-40 ms). Keys:

    w|<policy id>|<contact>     a contact counted in the policy's window
    m|<marker>                  a back-off marker
    d|<policy id>|<event key>   a decline counted towards a pause
    s|<event key>               a feedback event already applied
    x|<decision id>             a decision given up: its contacts are not recorded
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from nextbest.pressure.types import CapCandidate, FeedbackEffect, Selection

__all__ = ["MemoryContactStore"]

_State = dict[str, int]
"""key -> expiry (ms)."""


def _prune(state: _State, now_ms: int, prefix: str = "") -> None:
    """Drop the entries (whose key starts with `prefix`) that have expired by `now_ms`."""
    for key in [k for k, expiry in state.items() if expiry <= now_ms and k.startswith(prefix)]:
        del state[key]


def _window_counts(state: _State) -> Counter[str]:
    return Counter(key.split("|", 2)[1] for key in state if key.startswith("w|"))


def _live(state: _State, key: str, now_ms: int) -> bool:
    return state.get(key, now_ms) > now_ms


def _blocking(
    state: _State, counts: Counter[str], candidate: CapCandidate, now_ms: int
) -> str | None:
    """The policy that blocks `candidate` now, if any: a back-off marker, else a full cap."""
    marker = next((m for m in candidate.backoffs if _live(state, f"m|{m}", now_ms)), None)
    if marker is not None:
        return marker.partition(":")[0]
    full = next((cap for cap in candidate.caps if counts[cap.policy_id] >= cap.limit), None)
    return None if full is None else full.policy_id


def _explore(
    state: _State,
    counts: Counter[str],
    contact_prefix: str,
    candidates: Sequence[CapCandidate],
    picks: Sequence[float],
    now_ms: int,
    record: bool,
) -> Selection:
    """`select` with `picks`: the same steps as select.lua's exploring branch."""
    before = {cap.policy_id: counts[cap.policy_id] for c in candidates for cap in c.caps}
    taken: list[str] = []
    left = list(candidates)
    for pick in picks:
        allowed = [c for c in left if _blocking(state, counts, c, now_ms) is None]
        if not allowed:
            break
        position = 0 if pick < 0 else min(int(pick * len(allowed)), len(allowed) - 1)
        chosen = allowed[position]
        left.remove(chosen)
        taken.append(chosen.offer_id)
        for cap in chosen.caps:
            counts[cap.policy_id] += 1
            if record:
                contact = f"{contact_prefix}:{chosen.offer_id}"
                state[f"w|{cap.policy_id}|{contact}"] = now_ms + cap.window_ms
    blocked = {c.offer_id: reason for c in left if (reason := _blocking(state, counts, c, now_ms))}
    return Selection(tuple(taken), blocked, before)


class MemoryContactStore:
    """ContactStore kept in this process's memory."""

    def __init__(self, sweep_per_operation: int = 2) -> None:
        self._customers: dict[str, _State] = {}
        self._sweep_per_operation = sweep_per_operation
        self._sweep_queue: list[str] = []

    def __len__(self) -> int:
        """Customers with live state."""
        return len(self._customers)

    def _customer(self, customer_id: str, now_ms: int) -> _State:
        self._sweep_some(now_ms, customer_id)
        state = self._customers.get(customer_id)
        if state is None:
            state = self._customers[customer_id] = {}
        return state

    def _forget_if_empty(self, customer_id: str, state: _State) -> None:
        if not state:
            self._customers.pop(customer_id, None)

    def _sweep_some(self, now_ms: int, serving: str) -> None:
        """Prune the next few customers of the current pass but `serving` (the operation
        prunes what it reads); a new pass starts with the customers there are when the
        last one ends."""
        queue = self._sweep_queue
        if not queue:
            queue.extend(self._customers)
            queue.reverse()
        for _ in range(min(self._sweep_per_operation, len(queue))):
            customer_id = queue.pop()
            if customer_id == serving:
                continue
            state = self._customers.get(customer_id)
            if state is not None:
                _prune(state, now_ms)
                self._forget_if_empty(customer_id, state)

    def sweep(self, now_ms: int) -> None:
        """Drop every expired entry and every customer left with none."""
        for customer_id, state in list(self._customers.items()):
            _prune(state, now_ms)
            self._forget_if_empty(customer_id, state)

    async def select(
        self,
        customer_id: str,
        contact_prefix: str,
        candidates: Sequence[CapCandidate],
        limit: int,
        now_ms: int,
        record: bool,
        picks: Sequence[float] | None = None,
        budget_s: float | None = None,  # noqa: ARG002  # nothing to wait for in memory
    ) -> Selection:
        state = self._customer(customer_id, now_ms)
        record = record and not _live(state, f"x|{contact_prefix}", now_ms)
        _prune(state, now_ms, "w|")
        counts = _window_counts(state)
        if picks is not None:
            selection = _explore(state, counts, contact_prefix, candidates, picks, now_ms, record)
            self._forget_if_empty(customer_id, state)
            return selection
        taken: list[str] = []
        blocked: dict[str, str] = {}
        for candidate in candidates:
            if len(taken) >= limit:
                break
            marker = next((m for m in candidate.backoffs if _live(state, f"m|{m}", now_ms)), None)
            if marker is not None:
                blocked[candidate.offer_id] = marker.partition(":")[0]
                continue
            full = next((cap for cap in candidate.caps if counts[cap.policy_id] >= cap.limit), None)
            if full is not None:
                blocked[candidate.offer_id] = full.policy_id
                continue
            taken.append(candidate.offer_id)
            for cap in candidate.caps:
                counts[cap.policy_id] += 1
                if record:
                    contact = f"{contact_prefix}:{candidate.offer_id}"
                    state[f"w|{cap.policy_id}|{contact}"] = now_ms + cap.window_ms
        self._forget_if_empty(customer_id, state)
        return Selection(tuple(taken), blocked)

    async def release(
        self,
        customer_id: str,
        contact_prefix: str,
        candidates: Sequence[CapCandidate],
        now_ms: int,
    ) -> int:
        longest = max((cap.window_ms for c in candidates for cap in c.caps), default=0)
        if not longest:
            return 0
        state = self._customer(customer_id, now_ms)
        state[f"x|{contact_prefix}"] = now_ms + longest
        removed = 0
        for candidate in candidates:
            for cap in candidate.caps:
                key = f"w|{cap.policy_id}|{contact_prefix}:{candidate.offer_id}"
                removed += state.pop(key, None) is not None
        return removed

    async def apply_feedback(
        self,
        customer_id: str,
        effect: FeedbackEffect,
        now_ms: int,
        budget_s: float | None = None,  # noqa: ARG002 (nothing to wait for)
    ) -> bool:
        state = self._customer(customer_id, now_ms)
        seen = f"s|{effect.idempotency_key}"
        if _live(state, seen, now_ms):
            return False
        state[seen] = now_ms + effect.dedupe_ms
        for policy_id in effect.release_from:
            state.pop(f"w|{policy_id}|{effect.contact}", None)
        for marker, lifetime_ms in effect.set_markers:
            key = f"m|{marker}"
            state[key] = max(state.get(key, 0), now_ms + lifetime_ms)
        for counter in effect.count_declines:
            prefix = f"d|{counter.policy_id}|"
            _prune(state, now_ms, prefix)
            state[prefix + effect.idempotency_key] = now_ms + counter.window_ms
            declines = [key for key in state if key.startswith(prefix)]
            if len(declines) >= counter.threshold:
                state[f"m|{counter.pause_marker}"] = now_ms + counter.pause_ms
                for key in declines:
                    del state[key]
        return True

    def shard(self, customer_id: str) -> str:  # noqa: ARG002 (one process holds every count)
        return ""

    async def ping(self) -> None:
        return None

    async def prepare(self) -> None:
        return None

    async def aclose(self) -> None:
        self._customers.clear()
