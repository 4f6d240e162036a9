"""The script runner's own connections: bounded, shared by waiting calls, and never reused
after a call was interrupted."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio.connection import Connection

from nextbest.pressure import StoreUnavailableError
from nextbest.pressure.redis import RedisContactStore
from nextbest.pressure.redis_script import _resp
from nextbest.pressure.types import Cap, CapCandidate
from redis_server import RedisServer

NOW = 1_800_000_000_000
DAY = 86_400_000


def _offer(offer_id: str) -> list[CapCandidate]:
    return [CapCandidate(offer_id, (Cap("one_a_day", 5, DAY),), ())]


@pytest.mark.parametrize(
    "parts",
    [
        ("EVALSHA", "a" * 40, 2, "nb:{C-1}:c:x", "nb:{C-1}:x:d", 1_800_000_000_000, 3, 1),
        ("PING",),
        ("SET", "", "ü-€-𝄞", -1, 0),
        ("SCRIPT", "LOAD", "x" * 10_000 + "\r\n" + "y"),
        ("SCRIPT", "LOAD", b"return 1"),
    ],
)
def test_commands_are_packed_as_redis_py_packs_them(parts: tuple[str | int, ...]) -> None:
    assert _resp(parts) == b"".join(Connection().pack_command(*parts))


def test_keys_and_arguments_beyond_ascii_reach_the_script(redis_server: RedisServer) -> None:
    store = RedisContactStore.from_url(redis_server.url, timeout_s=2.0)

    async def scenario() -> tuple[tuple[str, ...], tuple[str, ...]]:
        await store.prepare()
        first = await store.select("C-ü", "d-ü1", _offer("offer"), 1, NOW, True)
        again = await store.select("C-ü", "d-ü2", _offer("offer"), 1, NOW + 1, True)
        await store.aclose()
        return first.selected, again.selected

    assert asyncio.run(scenario()) == (("offer",), ("offer",))
    with redis_server.client() as client:
        (key,) = client.keys("nb:{C-ü}:*")
        assert client.zrange(key, 0, -1) == ["d-ü1:offer", "d-ü2:offer"]


def test_a_call_interrupted_by_its_budget_leaves_no_reply_behind(
    redis_server: RedisServer,
) -> None:
    store = RedisContactStore.from_url(redis_server.url, timeout_s=2.0)

    async def scenario() -> tuple[bool, tuple[str, ...], tuple[str, ...]]:
        await store.prepare()
        with redis_server.client() as client:
            client.client_pause(300)
        interrupted = False
        try:
            async with asyncio.timeout(0.05):
                await store.select("C-1", "d1", _offer("first"), 1, NOW, True)
        except TimeoutError:
            interrupted = True
        await asyncio.sleep(0.4)  # the paused reply to "first" is sent now
        second = await store.select("C-2", "d2", _offer("second"), 1, NOW, True)
        third = await store.select("C-3", "d3", _offer("third"), 1, NOW, True)
        await store.aclose()
        return interrupted, second.selected, third.selected

    assert asyncio.run(scenario()) == (True, ("second",), ("third",))


def test_calls_beyond_the_connection_limit_wait_for_a_free_one(
    redis_server: RedisServer,
) -> None:
    store = RedisContactStore.from_url(redis_server.url, max_connections=2, timeout_s=1.0)

    async def scenario() -> tuple[list[tuple[str, ...]], int]:
        await store.prepare()
        selections = await asyncio.gather(
            *(store.select(f"C-{n}", f"d{n}", _offer(f"o{n}"), 1, NOW, True) for n in range(30))
        )
        with redis_server.client() as client:
            clients = len(client.client_list())
        await store.aclose()
        return [s.selected for s in selections], clients

    selected, clients = asyncio.run(scenario())
    assert selected == [(f"o{n}",) for n in range(30)]
    assert clients <= 1 + 2 + 1  # this check's client, the runner's two, the store client's


def test_after_a_restart_one_failed_call_clears_every_dead_connection(
    redis_server: RedisServer,
) -> None:
    store = RedisContactStore.from_url(redis_server.url, timeout_s=0.5)

    async def scenario() -> list[str]:
        await store.prepare()
        # five connections left idle
        await asyncio.gather(
            *(store.select(f"C-{n}", f"d{n}", _offer("a"), 1, NOW, True) for n in range(5))
        )
        redis_server.stop()
        redis_server.start()
        outcomes = []
        for n in range(4):
            try:
                await store.select(f"C-after-{n}", f"e{n}", _offer("b"), 1, NOW, True)
                outcomes.append("ok")
            except StoreUnavailableError:
                outcomes.append("failed")
        await store.aclose()
        return outcomes

    assert asyncio.run(scenario()) in (["failed", "ok", "ok", "ok"], ["ok", "ok", "ok", "ok"])


def test_the_urls_health_check_interval_pings_an_idle_connection(
    redis_server: RedisServer,
) -> None:
    store = RedisContactStore.from_url(f"{redis_server.url}?health_check_interval=1")

    async def scenario() -> int:
        await store.prepare()
        await store.select("C-1", "d1", _offer("a"), 1, NOW, True)
        with redis_server.client() as client:
            client.config_resetstat()
        await asyncio.sleep(1.2)
        await store.select("C-2", "d2", _offer("a"), 1, NOW, True)
        with redis_server.client() as client:
            pings: int = client.info("commandstats").get("cmdstat_ping", {}).get("calls", 0)
        await store.aclose()
        return pings

    assert asyncio.run(scenario()) == 1


def test_script_connections_are_opened_at_start_up_and_replaced_in_the_background(
    redis_server: RedisServer,
) -> None:
    store = RedisContactStore.from_url(redis_server.url, warm_connections=4, timeout_s=2.0)

    def store_clients() -> list[dict[str, str]]:
        with redis_server.client() as client:
            return [c for c in client.client_list() if c["cmd"] != "client|list"]

    async def scenario() -> list[int]:
        await store.prepare()
        started = len(store_clients())
        await store.select("C-1", "d1", _offer("a"), 1, NOW, True)
        after_decision = len(store_clients())
        with redis_server.client() as client:
            client.client_pause(200)
        try:
            async with asyncio.timeout(0.05):
                await store.select("C-2", "d2", _offer("a"), 1, NOW, True)
        except TimeoutError:
            pass
        await asyncio.sleep(0.4)  # closed with the interrupted call, then reopened
        replaced = len(store_clients())
        await store.aclose()
        return [started, after_decision, replaced]

    # 4 script connections and the store's own client (it loaded the scripts)
    assert asyncio.run(scenario()) == [5, 5, 5]


def test_a_call_interrupted_by_its_budget_closes_only_its_own_connection(
    redis_server: RedisServer,
) -> None:
    store = RedisContactStore.from_url(redis_server.url, warm_connections=0, timeout_s=2.0)

    async def scenario() -> list[int]:
        await store.prepare()
        await asyncio.gather(
            *(store.select(f"C-{n}", f"d{n}", _offer("a"), 1, NOW, True) for n in range(3))
        )
        before = len(store_clients(redis_server))
        with redis_server.client() as client:
            client.client_pause(200)
        try:
            async with asyncio.timeout(0.05):
                await store.select("C-x", "dx", _offer("a"), 1, NOW, True)
        except TimeoutError:
            pass
        await asyncio.sleep(0.3)
        after = len(store_clients(redis_server))
        await store.aclose()
        return [before, after]

    assert asyncio.run(scenario()) == [4, 3], "3 script connections and the store's client"


def store_clients(server: RedisServer) -> list[dict[str, str]]:
    with server.client() as client:
        return [c for c in client.client_list() if c["cmd"] != "client|list"]


def test_a_call_whose_reply_is_late_keeps_its_connection_for_the_next_calls(
    redis_server: RedisServer,
) -> None:
    """A budget that runs out before the reply does not cost a connection: the late reply
    is read in the background and the connection serves the next calls, in step (each
    gets its own reply, not the late one)."""
    store = RedisContactStore.from_url(redis_server.url, warm_connections=2, timeout_s=2.0)

    def client_ids() -> set[str]:
        return {c["id"] for c in store_clients(redis_server)}

    async def scenario() -> list[object]:
        await store.prepare()
        before = client_ids()
        with redis_server.client() as client:
            client.client_pause(200)
        try:
            await store.select("C-late", "d-late", _offer("late"), 1, NOW, True, budget_s=0.02)
            late: object = "answered"
        except StoreUnavailableError as exc:
            late = str(exc)
        await asyncio.sleep(0.4)  # the pause is over: the late reply has been read
        after = client_ids()
        selections = await asyncio.gather(
            *(store.select(f"C-{n}", f"d{n}", _offer(f"o{n}"), 1, NOW, True) for n in range(4))
        )
        await store.aclose()
        return [late, before == after, [s.selected for s in selections]]

    late, same_connections, selected = asyncio.run(scenario())
    assert late == "redis: LateReplyError: no reply within the budget"
    assert same_connections, "no connection closed or opened"
    assert selected == [(f"o{n}",) for n in range(4)]
