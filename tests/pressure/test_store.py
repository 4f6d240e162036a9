"""The contact-store contract, run on the embedded store and on a real Redis."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from redis import Redis

from helpers import free_port
from nextbest.pressure import ContactStore, MemoryContactStore, StoreUnavailableError
from nextbest.pressure.redis import RedisContactStore, customer_key_prefix
from nextbest.pressure.types import Cap, CapCandidate, DeclineCounter, FeedbackEffect
from redis_server import RedisServer

StoreFactory = Callable[[], ContactStore]
T = TypeVar("T")

NOW = 1_800_000_000_000
DAY = 86_400_000
WEEK_CAP = Cap("three_a_week", 3, 7 * DAY)
DAY_CAP = Cap("one_a_day", 1, DAY)


def run(factory: StoreFactory, scenario: Callable[[ContactStore], Awaitable[T]]) -> T:
    """Run `scenario` on a fresh store inside one event loop, closing the store after."""

    async def main() -> T:
        store = factory()
        try:
            return await scenario(store)
        finally:
            await store.aclose()

    return asyncio.run(main())


def offers(
    *ids: str, caps: tuple[Cap, ...] = (WEEK_CAP,), backoffs: bool = True
) -> list[CapCandidate]:
    return [
        CapCandidate(i, caps, (f"no_repeat:{i}", "pause:scope") if backoffs else ()) for i in ids
    ]


async def take(
    store: ContactStore,
    candidates: list[CapCandidate],
    *,
    now: int = NOW,
    limit: int = 3,
    record: bool = True,
    customer: str = "C-1",
    decision: str = "d",
) -> tuple[str, ...]:
    selection = await store.select(customer, decision, candidates, limit, now, record)
    return selection.selected


def test_a_cap_counts_contacts_in_its_rolling_window(store_factory: StoreFactory) -> None:
    async def scenario(store: ContactStore) -> list[Any]:
        first = await take(store, offers("a", "b"), decision="d1")
        second = await store.select("C-1", "d2", offers("c", "d"), 3, NOW + DAY, True)
        later = await take(store, offers("e"), now=NOW + 7 * DAY, decision="d3")
        return [first, second.selected, dict(second.blocked), later]

    first, second, blocked, later = run(store_factory, scenario)
    assert first == ("a", "b")
    assert second == ("c",)
    assert blocked == {"d": "three_a_week"}
    assert later == ("e",), "a and b left the 7-day window at exactly 7 days"


def test_caps_of_different_scopes_each_hold(store_factory: StoreFactory) -> None:
    both = (WEEK_CAP, DAY_CAP)

    async def scenario(store: ContactStore) -> list[Any]:
        today = await store.select("C-1", "d1", offers("a", "b", caps=both), 3, NOW, True)
        uncapped = await take(store, offers("service", caps=()), decision="d2")
        tomorrow = await take(store, offers("c", "d", caps=both), now=NOW + DAY, decision="d3")
        other_customer = await take(store, offers("a", caps=both), customer="C-2")
        return [today.selected, dict(today.blocked), uncapped, tomorrow, other_customer]

    today, blocked, uncapped, tomorrow, other = run(store_factory, scenario)
    assert today == ("a",)
    assert blocked == {"b": "one_a_day"}
    assert uncapped == ("service",)
    assert tomorrow == ("c",)
    assert other == ("a",)


def test_a_dry_run_counts_within_the_call_but_records_nothing(
    store_factory: StoreFactory,
) -> None:
    async def scenario(store: ContactStore) -> list[tuple[str, ...]]:
        dry = await take(store, offers("a", "b", "c", "d"), limit=4, record=False)
        real = await take(store, offers("a", "b", "c", "d"), limit=4)
        return [dry, real]

    dry, real = run(store_factory, scenario)
    assert dry == ("a", "b", "c")
    assert real == ("a", "b", "c")


def test_a_backoff_marker_blocks_until_it_lapses(store_factory: StoreFactory) -> None:
    declined = FeedbackEffect("k1", "d1:a", set_markers=(("no_repeat:a", 14 * DAY),))

    async def scenario(store: ContactStore) -> list[Any]:
        applied = await store.apply_feedback("C-1", declined, NOW)
        during = await store.select("C-1", "d2", offers("a", "b", caps=()), 3, NOW + DAY, True)
        after = await take(store, offers("a", caps=()), now=NOW + 14 * DAY, decision="d3")
        return [applied, during.selected, dict(during.blocked), after]

    applied, during, blocked, after = run(store_factory, scenario)
    assert applied is True
    assert during == ("b",)
    assert blocked == {"a": "no_repeat"}
    assert after == ("a",)


def test_a_later_shorter_backoff_does_not_shorten_a_longer_one(
    store_factory: StoreFactory,
) -> None:
    accepted = FeedbackEffect("k1", "d1:a", set_markers=(("no_repeat:a", 365 * DAY),))
    declined = FeedbackEffect("k2", "d2:a", set_markers=(("no_repeat:a", 14 * DAY),))

    async def scenario(store: ContactStore) -> tuple[str, ...]:
        await store.apply_feedback("C-1", accepted, NOW)
        await store.apply_feedback("C-1", declined, NOW + DAY)
        return await take(store, offers("a", caps=()), now=NOW + 30 * DAY)

    assert run(store_factory, scenario) == ()


def test_discarded_releases_the_recorded_contact(store_factory: StoreFactory) -> None:
    discard = FeedbackEffect("k1", "d1:a", release_from=("three_a_week",))

    async def scenario(store: ContactStore) -> list[tuple[str, ...]]:
        await take(store, offers("a", "b", "c"), decision="d1")
        full = await take(store, offers("d"), decision="d2")
        await store.apply_feedback("C-1", discard, NOW + 1)
        freed = await take(store, offers("d", "e"), now=NOW + 2, decision="d3")
        return [full, freed]

    full, freed = run(store_factory, scenario)
    assert full == ()
    assert freed == ("d",)


def test_the_same_feedback_applies_once(store_factory: StoreFactory) -> None:
    discard = FeedbackEffect("evt-1", "d1:a", release_from=("three_a_week",))

    async def scenario(store: ContactStore) -> list[Any]:
        await take(store, offers("a", "b", "c"), decision="d1")
        first = await store.apply_feedback("C-1", discard, NOW + 1)
        second = await store.apply_feedback("C-1", discard, NOW + 2)
        other_customer = await store.apply_feedback("C-2", discard, NOW + 2)
        room = await take(store, offers("d", "e"), now=NOW + 3, decision="d2")
        return [first, second, other_customer, room]

    first, second, other_customer, room = run(store_factory, scenario)
    assert (first, second, other_customer) == (True, False, True)
    assert room == ("d",)


def test_declines_within_the_window_pause_the_scope(store_factory: StoreFactory) -> None:
    counter = DeclineCounter("pause", 30 * DAY, 3, "pause:scope", 30 * DAY)

    def decline(key: str) -> FeedbackEffect:
        return FeedbackEffect(key, f"{key}:x", count_declines=(counter,))

    async def scenario(store: ContactStore) -> list[Any]:
        await store.apply_feedback("C-1", decline("k1"), NOW)
        await store.apply_feedback("C-1", decline("k2"), NOW + 31 * DAY)  # k1 has left
        await store.apply_feedback("C-1", decline("k3"), NOW + 32 * DAY)
        open_ = await take(store, offers("a", caps=()), now=NOW + 32 * DAY, decision="d1")
        await store.apply_feedback("C-1", decline("k4"), NOW + 33 * DAY)
        paused = await store.select("C-1", "d2", offers("a", caps=()), 3, NOW + 34 * DAY, True)
        resumed = await take(store, offers("a", caps=()), now=NOW + 63 * DAY, decision="d3")
        return [open_, paused.selected, dict(paused.blocked), resumed]

    open_, paused, blocked, resumed = run(store_factory, scenario)
    assert open_ == ("a",)
    assert paused == ()
    assert blocked == {"a": "pause"}
    assert resumed == ("a",)


def test_two_hundred_concurrent_selections_never_exceed_the_cap(
    store_factory: StoreFactory,
) -> None:
    async def scenario(store: ContactStore) -> list[str]:
        selections = await asyncio.gather(
            *(
                store.select("C-race", f"d{i}", offers("a", "b", "c", "d"), 2, NOW, True)
                for i in range(200)
            )
        )
        return [offer for s in selections for offer in s.selected]

    taken = run(store_factory, scenario)
    assert len(taken) == 3


def test_the_embedded_store_forgets_customers_once_no_policy_needs_them() -> None:
    store = MemoryContactStore()
    effect = FeedbackEffect(
        "k1", "d1:a", set_markers=(("no_repeat:a", 14 * DAY),), dedupe_ms=30 * DAY
    )

    async def scenario() -> list[int]:
        await take(store, offers("a", "b"))
        await store.apply_feedback("C-2", effect, NOW)
        live = len(store)
        store.sweep(NOW + 29 * DAY)
        partly = len(store)
        store.sweep(NOW + 30 * DAY)
        return [live, partly, len(store)]

    assert asyncio.run(scenario()) == [2, 1, 0]


def test_the_embedded_store_forgets_customers_who_never_come_back_without_a_pass() -> None:
    store = MemoryContactStore(sweep_per_operation=2)

    async def scenario() -> list[int]:
        for n in range(20):
            await store.select(f"C-gone-{n}", f"d{n}", offers("a"), 1, NOW, True)
        live = len(store)
        later = NOW + 8 * DAY  # every window has lapsed
        for n in range(12):
            await store.select("C-back", f"e{n}", offers("b"), 1, later, False)
        return [live, len(store)]

    assert asyncio.run(scenario()) == [20, 0]


def test_the_embedded_store_gives_the_garbage_collector_nothing_per_customer() -> None:
    # full collections walk every tracked object: nested per-customer containers made
    # them 10-40 ms pauses at 40,000 customers
    store = MemoryContactStore()
    effect = FeedbackEffect(
        "k1", "d1:a", set_markers=(("no_repeat:a", 14 * DAY),), dedupe_ms=30 * DAY
    )

    async def scenario() -> int:
        await take(store, offers("warm"), customer="C-warm")
        gc.collect()
        before = len(gc.get_objects())
        for n in range(2000):
            await take(store, offers("a", "b"), customer=f"C-{n}", decision=f"d{n}")
            await store.apply_feedback(f"C-{n}", effect, NOW)
        return len(gc.get_objects()) - before

    assert asyncio.run(scenario()) < 200
    assert len(store) == 2001


def test_every_redis_key_is_hash_tagged_and_expires(redis_server: RedisServer) -> None:
    store = RedisContactStore.from_url(redis_server.url)
    counter = DeclineCounter("pause", 30 * DAY, 3, "pause:scope", 30 * DAY)
    effect = FeedbackEffect(
        "k1", "d1:a", set_markers=(("no_repeat:a", 14 * DAY),), count_declines=(counter,)
    )
    customer = "C-{odd}%id"

    async def scenario(store: ContactStore) -> None:
        await store.select(customer, "d1", offers("a", "b"), 3, NOW, True)
        await store.apply_feedback(customer, effect, NOW)

    run(lambda: store, scenario)
    with redis_server.client() as client:
        keys = client.keys("*")
        assert len(keys) == 4  # window, marker, decline counter, idempotency key
        assert all(k.startswith(customer_key_prefix(customer)) for k in keys)
        assert customer_key_prefix(customer) == "nb:{C-{odd%7D%25id}:"
        ttls = [client.pttl(k) for k in keys]
    assert all(0 < ttl <= 30 * DAY for ttl in ttls), ttls


def test_a_redis_decision_is_one_round_trip(redis_server: RedisServer) -> None:
    """Counted by the server: each request a client sends is one read of its socket."""
    store = RedisContactStore.from_url(redis_server.url)
    candidates = offers(*"abcdefghij", caps=(WEEK_CAP, DAY_CAP))

    def reads_and_calls(client: Redis) -> tuple[int, int]:
        reads: int = client.info("stats")["total_reads_processed"]
        return reads, client.info("commandstats")["cmdstat_evalsha"]["calls"]

    async def scenario(store: ContactStore) -> tuple[int, int]:
        await store.select("C-warm", "d0", candidates, 3, NOW, True)  # loads the script
        with redis_server.client() as client:
            reads, calls = reads_and_calls(client)
            for i in range(20):
                await store.select(f"C-{i}", f"d{i}", candidates, 3, NOW, True)
            reads_after, calls_after = reads_and_calls(client)
        return reads_after - reads - 2, calls_after - calls  # less the two INFO

    assert run(lambda: store, scenario) == (20, 20)


def test_the_script_is_reloaded_after_the_server_forgets_it(redis_server: RedisServer) -> None:
    store = RedisContactStore.from_url(redis_server.url)

    async def scenario(store: ContactStore) -> tuple[str, ...]:
        await take(store, offers("a"), decision="d1")
        with redis_server.client() as client:
            client.script_flush()
        return await take(store, offers("b"), decision="d2")

    assert run(lambda: store, scenario) == ("b",)


def test_an_unreachable_redis_raises_store_unavailable() -> None:
    store = RedisContactStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2)

    async def scenario(store: ContactStore) -> list[str]:
        failures = []
        calls: list[Callable[[], Awaitable[Any]]] = [
            lambda: take(store, offers("a")),
            lambda: store.apply_feedback("C-1", FeedbackEffect("k", "d:a"), NOW),
            store.ping,
        ]
        for call in calls:
            with pytest.raises(StoreUnavailableError) as caught:
                await call()
            failures.append(str(caught.value))
        return failures

    failures = run(lambda: store, scenario)
    assert all(f.startswith("redis: ") for f in failures)


def test_a_release_takes_back_a_decisions_contacts_once(store_factory: StoreFactory) -> None:
    async def scenario(store: ContactStore) -> list[Any]:
        kept = await take(store, offers("a"), decision="d1")
        given_up = await take(store, offers("b", "c"), decision="d2")
        full = await take(store, offers("d"), decision="d3")
        first = await store.release("C-1", "d2", offers("b", "c", "d"), NOW + 1)
        again = await store.release("C-1", "d2", offers("b", "c", "d"), NOW + 2)
        room = await take(store, offers("e", "f", "g"), now=NOW + 3, decision="d4")
        return [kept, given_up, full, first, again, room]

    kept, given_up, full, first, again, room = run(store_factory, scenario)
    assert (kept, given_up, full) == (("a",), ("b", "c"), ())
    assert (first, again) == (2, 0)
    assert room == ("e", "f"), "d1's contact still counts, d2's two are gone"


def test_a_select_that_arrives_after_its_release_records_nothing(
    store_factory: StoreFactory,
) -> None:
    async def scenario(store: ContactStore) -> list[Any]:
        removed = await store.release("C-1", "late", offers("a", "b", "c"), NOW)
        late = await take(store, offers("a", "b", "c"), decision="late")
        room = await take(store, offers("x", "y", "z"), now=NOW + 1, decision="next")
        return [removed, late, room]

    removed, late, room = run(store_factory, scenario)
    assert removed == 0
    assert late == ("a", "b", "c"), "it answers as usual; its caller has given up on it"
    assert room == ("x", "y", "z")


def test_a_release_lasts_as_long_as_the_longest_window_it_names(
    store_factory: StoreFactory,
) -> None:
    async def scenario(store: ContactStore) -> tuple[str, ...]:
        await store.release("C-1", "late", offers("a", caps=(DAY_CAP,)), NOW)
        await take(store, offers("a", caps=(DAY_CAP,)), now=NOW + DAY + 1, decision="late")
        return await take(store, offers("b", caps=(DAY_CAP,)), now=NOW + DAY + 2, decision="n")

    assert run(store_factory, scenario) == (), "a select a day late records as usual"


def test_an_exploring_select_picks_among_the_offers_the_caps_allow_now(
    store_factory: StoreFactory,
) -> None:
    """Two contacts already in the week: one more fits. Slot 1 picks position
    floor(0.5 x 3) = 1 of the allowed (a, b, c) = b; then the cap is full and slot 2 finds
    none allowed."""

    async def scenario(store: ContactStore) -> list[Any]:
        await take(store, offers("x", "y", backoffs=False), decision="d0")
        two_left = await store.select(
            "C-1", "d1", offers("a", "b", "c", backoffs=False), 3, NOW, True, picks=(0.5, -1.0)
        )
        after = await store.select(
            "C-1", "d2", offers("a", caps=(), backoffs=False), 1, NOW, True, picks=()
        )
        return [two_left.selected, dict(two_left.blocked), two_left.counts, after]

    selected, blocked, counts, after = run(store_factory, scenario)
    assert counts == {"three_a_week": 2}
    assert selected == ("b",)
    assert blocked == {"a": "three_a_week", "c": "three_a_week"}
    assert after.selected == ()
    assert after.counts == {}


def test_an_exploring_select_takes_the_best_allowed_for_a_negative_pick(
    store_factory: StoreFactory,
) -> None:
    async def scenario(store: ContactStore) -> Any:
        candidates = [
            CapCandidate("a", (DAY_CAP,)),
            CapCandidate("b", (DAY_CAP,)),
            CapCandidate("s"),
            CapCandidate("t"),
        ]
        return await store.select("C-1", "d1", candidates, 3, NOW, False, picks=(-1.0, 0.99, -1.0))

    selection = run(store_factory, scenario)
    # a; then b is blocked by one_a_day: allowed (s, t), 0.99 picks t; then s
    assert selection.selected == ("a", "t", "s")
    assert selection.blocked == {"b": "one_a_day"}
    assert selection.counts == {"one_a_day": 0}
