"""Epsilon-greedy under caps: the replay against brute force, the closed form, and the
embedded store's own choices."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nextbest.exploration.capped import (
    affordable,
    allowed_at_start,
    binding_caps,
    capped_rank_probabilities,
    walk_frequencies,
)
from nextbest.exploration.propensity import epsilon_greedy_matrix
from nextbest.pressure import Cap, CapCandidate, MemoryContactStore

DAY = 86_400_000
NOW = 1_800_000_000_000


def _paths(
    left: tuple[CapCandidate, ...],
    used: Counter[str],
    counts: Mapping[str, int],
    epsilons: Sequence[float],
) -> Iterator[tuple[tuple[str, ...], float]]:
    """Every sequence the store's exploring walk can take, with its probability."""
    if not epsilons:
        yield (), 1.0
        return
    allowed = [
        c
        for c in left
        if all(counts.get(cap.policy_id, 0) + used[cap.policy_id] < cap.limit for cap in c.caps)
    ]
    if not allowed:
        yield (), 1.0
        return
    epsilon, m = epsilons[0], len(allowed)
    for position, chosen in enumerate(allowed):
        p = epsilon / m + (1.0 - epsilon if position == 0 else 0.0)
        if p == 0.0:
            continue
        after = used + Counter(cap.policy_id for cap in chosen.caps)
        rest = tuple(c for c in left if c is not chosen)
        for tail, q in _paths(rest, after, counts, epsilons[1:]):
            yield (chosen.offer_id, *tail), p * q


def _enumerated(
    candidates: Sequence[CapCandidate], counts: Mapping[str, int], epsilons: Sequence[float]
) -> np.ndarray:
    row = {c.offer_id: i for i, c in enumerate(candidates)}
    matrix = np.zeros((len(candidates), len(epsilons)))
    for path, p in _paths(tuple(candidates), Counter(), counts, epsilons):
        for slot, offer in enumerate(path):
            matrix[row[offer], slot] += p
    return matrix


@st.composite
def capped_cases(
    draw: st.DrawFn,
) -> tuple[list[CapCandidate], dict[str, int], list[float]]:
    caps = [Cap(f"cap{i}", draw(st.integers(1, 3)), DAY) for i in range(draw(st.integers(1, 3)))]
    candidates = [
        CapCandidate(f"o{i}", tuple(c for c in caps if draw(st.booleans())))
        for i in range(draw(st.integers(1, 7)))
    ]
    counts = {c.policy_id: draw(st.integers(0, c.limit)) for c in caps}
    epsilons = draw(st.lists(st.sampled_from((0.0, 0.2, 0.5, 1.0)), min_size=1, max_size=4))
    return candidates, counts, epsilons


@settings(max_examples=300, deadline=None)
@given(case=capped_cases())
def test_the_replay_matches_brute_force_enumeration(
    case: tuple[list[CapCandidate], dict[str, int], list[float]],
) -> None:
    candidates, counts, epsilons = case
    np.testing.assert_allclose(
        capped_rank_probabilities(candidates, counts, {}, epsilons),
        _enumerated(candidates, counts, epsilons),
        atol=1e-12,
    )


def test_caps_with_room_for_every_pick_give_the_closed_form_over_the_allowed() -> None:
    week = Cap("week", 3, DAY)
    candidates = [CapCandidate(f"o{i}", (week,)) for i in range(4)] + [CapCandidate("s")]
    matrix = capped_rank_probabilities(candidates, {"week": 0}, {}, [0.4, 0.4, 0.4])
    assert binding_caps(candidates, {"week": 0}, 3) == {}
    np.testing.assert_allclose(matrix, epsilon_greedy_matrix(5, 3, 0.4))


def test_offers_blocked_at_the_start_get_nothing_and_the_rest_share_their_slots() -> None:
    day = Cap("day", 1, DAY)
    candidates = [
        CapCandidate("full", (day,)),
        CapCandidate("paused", (), ("no_repeat:paused",)),
        CapCandidate("a"),
        CapCandidate("b"),
    ]
    blocked = {"full": "day", "paused": "no_repeat"}
    assert allowed_at_start(candidates, {"day": 1}, blocked) == [2, 3]
    matrix = capped_rank_probabilities(candidates, {"day": 1}, blocked, [0.5, 0.5])
    np.testing.assert_array_equal(matrix[:2], 0.0)
    np.testing.assert_allclose(matrix[2:], epsilon_greedy_matrix(2, 2, 0.5))


def test_a_random_order_walk_is_uniform_among_the_allowed_slot_by_slot() -> None:
    """The store's greedy walk over a uniformly random order takes, at each slot, a
    uniform offer among those allowed: epsilon = 1, here with a cap that fills."""
    day = Cap("day", 1, DAY)
    candidates = [CapCandidate(f"c{i}", (day,)) for i in range(3)] + [
        CapCandidate("s0"),
        CapCandidate("s1"),
    ]
    binding = binding_caps(candidates, {"day": 0}, 3)
    assert binding == {"day": 1}
    orders = list(itertools.permutations(range(5)))
    np.testing.assert_allclose(
        walk_frequencies(candidates, binding, orders, 3),
        capped_rank_probabilities(candidates, {"day": 0}, {}, [1.0, 1.0, 1.0]),
        atol=1e-12,
    )


def test_the_embedded_stores_choices_match_the_replay() -> None:
    """Per-cell binomial z-scores below 4.2 (a 0.001 family-wise level over the cells)."""
    day, week = Cap("day", 1, DAY), Cap("week", 3, 7 * DAY)
    candidates = [CapCandidate(f"c{i}", (week, day)) for i in range(4)] + [
        CapCandidate("w", (week,)),
        CapCandidate("s"),
    ]
    epsilons = [0.0, 0.6, 0.6]
    rng = np.random.default_rng(3)
    draws = 6_000

    async def run() -> Counter[tuple[str, int]]:
        store = MemoryContactStore()
        await store.select("C-1", "seed", [CapCandidate("x", (week,))], 1, NOW, True)
        seen: Counter[tuple[str, int]] = Counter()
        for n in range(draws):
            picks = [float(rng.random()) if rng.random() < e else -1.0 for e in epsilons]
            selection = await store.select("C-1", f"d{n}", candidates, 3, NOW, False, picks)
            assert selection.counts == {"week": 1, "day": 0}
            seen.update((offer, slot) for slot, offer in enumerate(selection.selected))
        return seen

    seen = asyncio.run(run())
    expected = capped_rank_probabilities(candidates, {"week": 1, "day": 0}, {}, epsilons)
    for i, candidate in enumerate(candidates):
        for slot in range(3):
            p = expected[i, slot]
            observed = seen[(candidate.offer_id, slot)] / draws
            sd = max(np.sqrt(p * (1 - p) / draws), 1e-12)
            assert abs(observed - p) / sd < 4.2 or abs(observed - p) < 1e-12, (candidate, slot)


def test_the_replay_is_bounded_before_a_decision_explores() -> None:
    assert affordable(11, 3)
    assert affordable(20, 4)
    assert not affordable(30, 6)
