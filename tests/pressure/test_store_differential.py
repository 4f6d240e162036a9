"""The embedded store and the Lua scripts on a real redis-server answer alike: random
sequences of selects and feedback (caps, back-offs, decline counters, discarded releases,
duplicate and back-dated events), on a clock the test moves, give the same answers.

Windows and pauses are a minute or more and each sequence runs in well under that, so the
TTLs Redis counts on its own clock never end a key the test's clock still holds live.
Back-dated events may go back to before the customer's latest operation: both stores
judge an event at its own time against what they still hold (the two tests at the end
are the cases where the embedded store used to forget too early).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nextbest.bundle import Bundle
from nextbest.pressure import (
    Cap,
    CapCandidate,
    DeclineCounter,
    FeedbackEffect,
    MemoryContactStore,
)
from nextbest.pressure.redis import RedisContactStore
from redis_server import RedisServer

MINUTE = 60_000
DURATIONS = (MINUTE, 2 * MINUTE, 60 * MINUTE)
STEPS = (0, 1, MINUTE - 1, MINUTE, MINUTE + 1, 2 * MINUTE, 60 * MINUTE, 24 * 60 * MINUTE)
OFFERS = ("o0", "o1", "o2", "o3")
DECISIONS = ("d0", "d1", "d2")


@dataclass(frozen=True)
class Select:
    decision: str
    ranked: tuple[CapCandidate, ...]
    limit: int
    record: bool
    picks: tuple[float, ...] | None = None
    """Exploring: one number per slot (see `ContactStore.select`)."""


@dataclass(frozen=True)
class Feedback:
    effect: FeedbackEffect
    back_ms: int
    """How long ago the event happened (feedback with an `occurred_at` in the past)."""


@dataclass(frozen=True)
class Advance:
    ms: int


Step = Select | Feedback | Advance


PICKS = st.sampled_from((-1.0, 0.0, 0.999999)) | st.floats(0.0, 1.0, exclude_max=True)


@st.composite
def scenarios(draw: st.DrawFn) -> list[Step]:
    caps = [
        Cap(f"cap{i}", draw(st.integers(1, 3)), draw(st.sampled_from(DURATIONS)))
        for i in range(draw(st.integers(0, 3)))
    ]
    counters = [
        DeclineCounter(
            f"dc{i}",
            draw(st.sampled_from(DURATIONS)),
            draw(st.integers(1, 3)),
            f"dc{i}:scope",
            draw(st.sampled_from(DURATIONS)),
        )
        for i in range(draw(st.integers(0, 2)))
    ]
    backoffs = [f"bo{i}" for i in range(draw(st.integers(0, 2)))]
    candidates = {}
    for offer in OFFERS:
        own_caps = [c for c in caps if draw(st.booleans())]
        markers = [f"{b}:{offer}" for b in backoffs if draw(st.booleans())]
        markers += [c.pause_marker for c in counters if draw(st.booleans())]
        candidates[offer] = CapCandidate(offer, tuple(own_caps), tuple(markers))

    def effect() -> FeedbackEffect:
        offer = draw(st.sampled_from(OFFERS))
        decision = draw(st.sampled_from(DECISIONS))
        candidate = candidates[offer]
        release = [c.policy_id for c in candidate.caps if draw(st.booleans())]
        offer_markers = [m for m in candidate.backoffs if m.startswith("bo")]
        markers = [
            (m, draw(st.sampled_from(DURATIONS))) for m in offer_markers if draw(st.booleans())
        ]
        declines = [c for c in counters if draw(st.booleans())]
        return FeedbackEffect(
            idempotency_key=draw(st.sampled_from(("k0", "k1", "k2", "k3", "k4", "k5"))),
            contact=f"{decision}:{offer}",
            release_from=tuple(release),
            set_markers=tuple(markers),
            count_declines=tuple(declines),
        )

    steps: list[Step] = []
    for _ in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(("select", "select", "feedback", "advance")))
        if kind == "select":
            ranked = draw(st.permutations(OFFERS))[: draw(st.integers(1, len(OFFERS)))]
            steps.append(
                Select(
                    draw(st.sampled_from(DECISIONS)),
                    tuple(candidates[o] for o in ranked),
                    draw(st.integers(1, 4)),
                    draw(st.booleans()),
                    draw(st.none() | st.lists(PICKS, max_size=4).map(tuple)),
                )
            )
        elif kind == "feedback":
            steps.append(Feedback(effect(), draw(st.sampled_from((0, 0, 1, MINUTE, 30 * MINUTE)))))
        else:
            steps.append(Advance(draw(st.sampled_from(STEPS))))
    return steps


DAY = 24 * 60 * MINUTE
OUTCOMES = ("declined", "declined", "declined", "accepted", "discarded", "presented", "ignored")
"""Declines weigh most: three of them make a scope pause."""


@st.composite
def demo_scenarios(draw: st.DrawFn, bundle: Bundle) -> list[Step]:
    """Decisions and feedback as the service makes them from the demo bundle's policies:
    the candidates and effects come from `bundle.policies`."""
    channels = bundle.vocabulary.channels
    offers = [o.id for o in bundle.offers]
    # feedback on a few offers only, so that it adds up (declines to a pause, say)
    focus = draw(st.lists(st.sampled_from(offers), min_size=1, max_size=4, unique=True))
    steps: list[Step] = []
    for _ in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(("select", "select", "feedback", "feedback", "advance")))
        channel = draw(st.sampled_from(channels))
        if kind == "select":
            ranked = draw(st.lists(st.sampled_from(offers), min_size=1, max_size=8, unique=True))
            steps.append(
                Select(
                    draw(st.sampled_from(DECISIONS)),
                    tuple(bundle.policies.candidate(channel, o) for o in ranked),
                    draw(st.integers(1, 5)),
                    draw(st.booleans()),
                    draw(st.none() | st.lists(PICKS, min_size=1, max_size=5).map(tuple)),
                )
            )
        elif kind == "feedback":
            offer = draw(st.sampled_from(focus))
            decision = draw(st.sampled_from(DECISIONS))
            outcome = draw(st.sampled_from(OUTCOMES))
            effect = bundle.policies.feedback_effect(
                channel,
                offer,
                outcome,
                f"{decision}:{offer}",
                draw(st.sampled_from((f"{decision}:{offer}:{outcome}", "evt-1", "evt-2"))),
            )
            steps.append(Feedback(effect, draw(st.sampled_from((0, 0, DAY, 20 * DAY)))))
        else:
            steps.append(Advance(draw(st.sampled_from((0, 1, DAY - 1, DAY, 7 * DAY, 15 * DAY)))))
    return steps


async def _run_both(url: str, steps: list[Step]) -> None:
    memory = MemoryContactStore()
    redis = RedisContactStore.from_url(url, timeout_s=2.0)
    customer = f"C-diff-{uuid.uuid4().hex}"
    now = time.time_ns() // 1_000_000
    try:
        for number, step in enumerate(steps):
            if isinstance(step, Advance):
                now += step.ms
                continue
            if isinstance(step, Select):
                args = (customer, step.decision, step.ranked, step.limit, now, step.record)
                expected: Any = await memory.select(*args, picks=step.picks)
                actual: Any = await redis.select(*args, picks=step.picks)
            else:
                at = now - step.back_ms  # back-dated, even to before the last operation
                expected = await memory.apply_feedback(customer, step.effect, at)
                actual = await redis.apply_feedback(customer, step.effect, at)
            assert actual == expected, f"step {number}: {step}"
    finally:
        await redis.aclose()


@settings(max_examples=100, deadline=None)
@given(steps=scenarios())
def test_memory_and_redis_stores_agree_on_any_sequence(
    redis_session: RedisServer, steps: list[Step]
) -> None:
    if not redis_session.running:
        redis_session.start()
    asyncio.run(_run_both(redis_session.url, steps))


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_memory_and_redis_stores_agree_on_the_demo_bundles_policies(
    redis_session: RedisServer, demo_bundle: Bundle, data: st.DataObject
) -> None:
    if not redis_session.running:
        redis_session.start()
    steps = data.draw(demo_scenarios(demo_bundle))
    asyncio.run(_run_both(redis_session.url, steps))


COUNTER = DeclineCounter("dc", MINUTE, 2, "dc:scope", MINUTE)
PAUSED = CapCandidate("o1", (), ("dc:scope",))


def _decline(key: str, *, dedupe_ms: int = 30 * DAY) -> FeedbackEffect:
    return FeedbackEffect(key, f"d0:{key}", count_declines=(COUNTER,), dedupe_ms=dedupe_ms)


def test_a_back_dated_decline_counts_an_earlier_one_still_in_its_window_in_both_stores(
    redis_session: RedisServer,
) -> None:
    if not redis_session.running:
        redis_session.start()
    steps: list[Step] = [
        Feedback(_decline("k0"), 0),  # in the window until now + 1 minute
        Advance(MINUTE),
        Select("d0", (CapCandidate("o0"),), 1, False),  # touches the customer, nothing else
        Feedback(_decline("k1"), 1),  # one ms before k0 leaves the window: the second decline
        Select("d0", (PAUSED,), 1, False),
    ]
    asyncio.run(_run_both(redis_session.url, steps))


def test_a_back_dated_duplicate_counts_once_in_both_stores(redis_session: RedisServer) -> None:
    if not redis_session.running:
        redis_session.start()
    steps: list[Step] = [
        Feedback(_decline("k0", dedupe_ms=MINUTE), 0),
        Advance(MINUTE),
        Select("d0", (CapCandidate("o0"),), 1, False),
        Feedback(_decline("k0", dedupe_ms=MINUTE), 1),
    ]
    asyncio.run(_run_both(redis_session.url, steps))
