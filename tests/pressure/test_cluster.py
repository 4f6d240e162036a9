"""The contact store on a real Redis Cluster (three primaries, three replicas): one round
trip to the customer's primary, caps across service replicas, failover, idempotency."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from redis.crc import key_slot

from helpers import StartServer, decision_request, free_port, until
from nextbest.bundle import Bundle
from nextbest.pressure import StoreUnavailableError
from nextbest.pressure.breaker import CircuitBreaker
from nextbest.pressure.gate import PressureGate
from nextbest.pressure.redis import RedisContactStore, customer_key_prefix
from nextbest.pressure.redis_cluster import ClusterScripts
from nextbest.pressure.types import Cap, CapCandidate, DeclineCounter, FeedbackEffect
from redis_server import RedisClusterNodes

NOW = 1_800_000_000_000
DAY = 86_400_000
WEEK = Cap("three_a_week", 3, 7 * DAY)
SALES = {"upsell", "cross_sell", "retention"}


def _store(cluster: RedisClusterNodes, timeout_s: float = 2.0, warm: int = 2) -> RedisContactStore:
    """As the service opens it on a cluster: a write waits for one replica (WAIT 1)."""
    return RedisContactStore.from_url(
        cluster.url, timeout_s=timeout_s, warm_connections=warm, cluster=True, wait_replicas=1
    )


def _offers(*ids: str) -> list[CapCandidate]:
    return [CapCandidate(i, (WEEK,), (f"no_repeat:{i}",)) for i in ids]


def _port(shard: str) -> int:
    return int(shard.rsplit(":", 1)[1])


def _customers_by_primary(store: RedisContactStore, count: int) -> dict[int, list[str]]:
    """`count` customers on each primary, by the primary's port."""
    found: dict[int, list[str]] = {}
    n = 0
    while len(found) < 3 or min(len(c) for c in found.values()) < count:
        customer = f"C-{n}"
        n += 1
        customers = found.setdefault(_port(store.shard(customer)), [])
        if len(customers) < count:
            customers.append(customer)
    return found


def _evalsha_calls(cluster: RedisClusterNodes) -> dict[int, int]:
    calls = {}
    for port in cluster.primaries():
        with cluster.client(port) as client:
            stats = client.info("commandstats")
            calls[port] = stats.get("cmdstat_evalsha", {}).get("calls", 0)
    return calls


def test_a_customers_keys_share_one_slot_on_its_primary(redis_cluster: RedisClusterNodes) -> None:
    customer = "C-{odd}%id"
    counter = DeclineCounter("pause", 30 * DAY, 3, "pause:scope", 30 * DAY)
    effect = FeedbackEffect(
        "k1", "d1:a", set_markers=(("no_repeat:a", 14 * DAY),), count_declines=(counter,)
    )

    async def scenario() -> str:
        store = _store(redis_cluster)
        await store.prepare()
        await store.select(customer, "d1", _offers("a", "b"), 3, NOW, True)
        await store.apply_feedback(customer, effect, NOW)
        await store.release(customer, "d2", _offers("a"), NOW)
        shard = store.shard(customer)
        await store.aclose()
        return shard

    owner = _port(asyncio.run(scenario()))
    keys_by_port = {}
    for port in redis_cluster.primaries():
        with redis_cluster.client(port) as client:
            keys_by_port[port] = client.keys("*")
    assert {port for port, keys in keys_by_port.items() if keys} == {owner}
    keys = keys_by_port[owner]
    assert len(keys) == 5  # window, marker, decline counter, idempotency key, cancellation
    assert all(k.startswith(customer_key_prefix(customer)) for k in keys)
    assert len({key_slot(k.encode()) for k in keys}) == 1


def test_a_decision_is_one_evalsha_on_the_customers_primary(
    redis_cluster: RedisClusterNodes,
) -> None:
    async def scenario() -> tuple[dict[int, list[str]], dict[int, int], dict[int, int]]:
        store = _store(redis_cluster)
        await store.prepare()
        customers = _customers_by_primary(store, 4)
        before = _evalsha_calls(redis_cluster)
        for port_customers in customers.values():
            for n, customer in enumerate(port_customers):
                await store.select(customer, f"d{n}", _offers("a", "b"), 3, NOW, True)
        after = _evalsha_calls(redis_cluster)
        await store.aclose()
        return customers, before, after

    customers, before, after = asyncio.run(scenario())
    assert {port: after[port] - before[port] for port in after} == {
        port: len(c) for port, c in customers.items()
    }


def test_feedback_is_applied_once_on_every_shard_whatever_the_replica(
    redis_cluster: RedisClusterNodes,
) -> None:
    effect = FeedbackEffect("event-1", "d1:a", set_markers=(("no_repeat:a", 14 * DAY),))

    async def scenario() -> tuple[dict[int, list[str]], list[bool]]:
        replicas = [_store(redis_cluster) for _ in range(3)]
        for store in replicas:
            await store.prepare()
        customers = _customers_by_primary(replicas[0], 3)
        everyone = [c for port_customers in customers.values() for c in port_customers]
        applied = await asyncio.gather(
            *(
                store.apply_feedback(customer, effect, NOW)
                for customer in everyone
                for store in replicas  # the same event through each of three replicas
            )
        )
        for store in replicas:
            await store.aclose()
        return customers, applied

    customers, applied = asyncio.run(scenario())
    assert len(set(customers)) == 3
    per_customer = [applied[i : i + 3] for i in range(0, len(applied), 3)]
    assert all(sum(flags) == 1 for flags in per_customer), per_customer


def test_a_moved_slot_is_followed_without_a_degraded_answer(
    redis_cluster: RedisClusterNodes,
) -> None:
    """A graceful failover (CLUSTER FAILOVER on a replica) moves a primary's slots; the
    store's old map sends the next call to the old primary, which answers MOVED."""

    async def scenario() -> tuple[tuple[str, ...], str, str]:
        store = _store(redis_cluster)
        await store.prepare()
        customer = "C-moved"
        old = _port(store.shard(customer))
        replica = redis_cluster.replica_of(old)
        with redis_cluster.client(replica) as client:
            client.execute_command("CLUSTER", "FAILOVER")
        await until(lambda: replica in redis_cluster.primaries(), "the replica's promotion")
        await asyncio.to_thread(redis_cluster.wait_ok)
        try:
            selection = await store.select(customer, "d1", _offers("a"), 3, NOW, True)
            await until(lambda: _port(store.shard(customer)) == replica, "the slot map's refresh")
            shard = store.shard(customer)
        finally:
            await store.aclose()
        return selection.selected, shard, f"127.0.0.1:{replica}"

    selected, shard, promoted = asyncio.run(scenario())
    assert selected == ("a",)
    assert shard == promoted


def test_a_killed_primary_degrades_only_its_customers_and_the_store_recovers_by_itself(
    redis_cluster: RedisClusterNodes, demo_bundle: Bundle
) -> None:
    """Contacts recorded (appendfsync always) before the primary dies are all there after
    its replica took over; meanwhile only the customers of its slots are degraded."""
    candidates = _offers("a", "b")
    ranked = [o.id for o in demo_bundle.offers if "web" in o.channels]

    async def scenario() -> dict[str, Any]:
        store = _store(redis_cluster, timeout_s=0.25)
        gate = PressureGate(store, budget_s=0.25, breaker=CircuitBreaker(open_s=0.2))
        await store.prepare()
        customers = _customers_by_primary(store, 5)
        everyone = [c for port_customers in customers.values() for c in port_customers]
        for customer in everyone:
            selection = await store.select(customer, "d-before", candidates, 3, NOW, True)
            assert selection.selected == ("a", "b")

        victim = _port(store.shard("C-failover"))
        replica = redis_cluster.replica_of(victim)
        redis_cluster.kill(victim)
        killed = time.monotonic()

        outcomes: Counter[tuple[bool, bool]] = Counter()
        for n, customer in enumerate(everyone):
            result = await gate.select(
                demo_bundle.policies, customer, "web", f"d-down-{n}", ranked, 3, False
            )
            outcomes[(customer in customers[victim], result.degraded_mode is not None)] += 1

        with redis_cluster.client(replica) as client:  # as an operator (or the cluster) would
            client.execute_command("CLUSTER", "FAILOVER", "FORCE")

        async def served() -> bool:
            try:
                await store.select("C-failover", "d-probe", _offers("z"), 1, NOW, False)
            except StoreUnavailableError:
                return False
            return True

        deadline = time.monotonic() + 30
        while not await served():
            assert time.monotonic() < deadline, "the store did not recover within 30 s"
            await asyncio.sleep(0.02)
        recovered_s = time.monotonic() - killed

        kept = {}
        for customer in customers[victim]:
            client = store.scripts
            assert isinstance(client, ClusterScripts)
            server = client.server(customer_key_prefix(customer))
            assert server is not None
            kept[customer] = await server.client.zrange(
                customer_key_prefix(customer) + "c:three_a_week", 0, -1
            )
        again = await store.select(customers[victim][0], "d-after", candidates, 3, NOW, True)
        await gate.aclose()
        return {
            "outcomes": outcomes,
            "recovered_s": recovered_s,
            "kept": kept,
            "again": again.selected,
        }

    try:
        result = asyncio.run(scenario())
    finally:
        restart_killed_nodes(redis_cluster)
    # (on the dead primary's slots, degraded) and (elsewhere, served), nothing else
    assert set(result["outcomes"]) == {(True, True), (False, False)}, result["outcomes"]
    assert result["outcomes"][(True, True)] == 5
    assert all(v == ["d-before:a", "d-before:b"] for v in result["kept"].values()), result
    assert result["again"] == ("a",), "the week cap counts the contacts from before"
    assert result["recovered_s"] < 30


@pytest.mark.parametrize("wait_replicas", [1, 0])
def test_with_wait_every_acknowledged_contact_survives_its_primarys_death(
    redis_cluster: RedisClusterNodes, wait_replicas: int
) -> None:
    """Recorded decisions go on while the replica of their primary is stalled (SIGSTOP:
    what the primary sends it waits in its socket, unread); then the primary is killed
    with SIGKILL right after its last acknowledgement, and so is the replica, which
    restarts from its own append-only file: the replication stream in flight is lost, as
    when a primary's host dies with bytes on the wire. The replica is promoted. With
    WAIT 1, a contact is acknowledged only once the replica has it, so every acknowledged
    contact is on the promoted replica; without, those acknowledged during the stall are
    not."""
    many = Cap("many", 1000, 7 * DAY)

    async def record(store: RedisContactStore, customers: list[str], n: int) -> set[str]:
        acknowledged = set()
        for i in range(n):
            customer = customers[i % len(customers)]
            decision = f"d{time.monotonic_ns()}"
            try:
                selection = await store.select(
                    customer, decision, [CapCandidate("a", (many,))], 1, NOW, True, budget_s=0.1
                )
            except StoreUnavailableError:
                continue
            acknowledged.update(f"{customer}|{decision}:{o}" for o in selection.selected)
        return acknowledged

    async def scenario() -> tuple[set[str], set[str], int, int]:
        store = RedisContactStore.from_url(
            redis_cluster.url,
            timeout_s=0.1,
            warm_connections=2,
            cluster=True,
            wait_replicas=wait_replicas,
        )
        await store.prepare()
        try:
            customers = _customers_by_primary(store, 3)
            victim = _port(store.shard("C-failover"))
            replica = redis_cluster.replica_of(victim)
            mine = customers[victim]
            before = await record(store, mine, 12)
            redis_cluster.pause(replica)
            during = await record(store, mine, 6)
            redis_cluster.kill(victim)
        finally:
            await store.aclose()
        redis_cluster.kill(replica)
        redis_cluster.start(replica)
        with redis_cluster.client(replica) as client:
            client.execute_command("CLUSTER", "FAILOVER", "FORCE")
        await until(lambda: replica in redis_cluster.primaries(), "the replica's promotion")
        kept = set()
        with redis_cluster.client(replica) as client:
            for customer in mine:
                members = client.zrange(customer_key_prefix(customer) + "c:many", 0, -1)
                kept.update(f"{customer}|{member}" for member in members)
        return before | during, kept, len(before), len(during)

    try:
        acknowledged, kept, before, during = asyncio.run(scenario())
    finally:
        restart_killed_nodes(redis_cluster)
    assert before == 12
    lost = acknowledged - kept
    if wait_replicas:
        assert during == 0, "no write is acknowledged while the replica does not read"
        assert lost == set()
    else:
        assert during == 6
        assert lost, "what was acknowledged during the stall is lost"


def _customers_in_one_slot(count: int) -> list[str]:
    """`count` customers whose keys hash to the slot of the first."""
    first = "C-reshard"
    slot = key_slot(customer_key_prefix(first).encode())
    found = [first]
    for n in itertools.count():
        if len(found) == count:
            return found
        if key_slot(customer_key_prefix(f"C-{n}").encode()) == slot:
            found.append(f"C-{n}")
    raise AssertionError("unreachable")


def _move_slot(
    cluster: RedisClusterNodes, slot: int, source: int, target: int, pause_s: float
) -> int:
    """Migrate `slot` from the primary on `source` to the one on `target` as redis-cli's
    resharding does (IMPORTING, MIGRATING, MIGRATE, SETSLOT NODE), one key per MIGRATE
    and `pause_s` between the steps, so that calls meet every state; the keys moved."""
    source_id, target_id = cluster.node_id(source), cluster.node_id(target)
    with cluster.client(source) as old, cluster.client(target) as new:
        new.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        old.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        time.sleep(pause_s)
        moved = 0
        while keys := old.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10):
            for key in keys:
                old.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", key)
                moved += 1
                time.sleep(pause_s)
        new.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        old.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
    for port in cluster.primaries():
        if port not in (source, target):
            with cluster.client(port) as other:
                other.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
    return moved


def test_a_slot_resharded_under_decisions_keeps_its_caps_and_is_followed(
    redis_cluster: RedisClusterNodes, demo_bundle: Bundle
) -> None:
    """Four customers share a slot; each has one contact of the demo's 3-a-week sales cap
    when their slot starts moving to another primary, and decisions (limit 1) go on for
    them, and for a customer of another slot on the same primary, until the slot has
    moved. Mid-migration a script finds its keys split or absent (TRYAGAIN, ASK then
    TRYAGAIN): it does not run, the call is tried again within the budget, and a decision
    that runs out of budget is degraded (StoreBusyError; on a loaded machine a timeout
    may degrade one too). Each customer gets exactly its cap in all, the
    contacts recorded on the new primary are those returned, and the other customer is
    never degraded (a slot in motion does not open its primary's breaker)."""
    ranked = [o.id for o in demo_bundle.offers if "web" in o.channels]
    customers = _customers_in_one_slot(4)
    slot = key_slot(customer_key_prefix(customers[0]).encode())

    async def scenario() -> dict[str, Any]:
        store = _store(redis_cluster, timeout_s=0.25, warm=8)
        gate = PressureGate(store, budget_s=0.25)
        await store.prepare()
        source = _port(store.shard(customers[0]))
        target = next(p for p in redis_cluster.primaries() if p != source)
        bystander = next(c for c in _customers_by_primary(store, 3)[source])
        returned: dict[str, list[str]] = {c: [] for c in [*customers, bystander]}
        errors: Counter[str | None] = Counter()
        done = asyncio.Event()
        decisions = itertools.count()

        async def decide(customer: str) -> None:
            while not done.is_set():
                n = next(decisions)
                result = await gate.select(
                    demo_bundle.policies, customer, "web", f"d{n}", ranked, 1, True
                )
                kind = _error_class(result.store_error)
                errors[kind if customer != bystander else "bystander"] += bool(result.degraded_mode)
                returned[customer] += [
                    f"d{n}:{o}"
                    for o in result.selected
                    if demo_bundle.policies.needs_check("web", o)
                ]
                await asyncio.sleep(0.005)

        for customer in customers:  # one contact each before the slot moves
            result = await gate.select(
                demo_bundle.policies, customer, "web", f"first-{customer}", ranked, 1, True
            )
            returned[customer] += [f"first-{customer}:{o}" for o in result.selected]
        workers = [asyncio.create_task(decide(c)) for c in [*customers, bystander]]
        moved = await asyncio.to_thread(_move_slot, redis_cluster, slot, source, target, 0.05)
        await until(lambda: _port(store.shard(customers[0])) == target, "the slot map's refresh")
        await asyncio.sleep(0.3)  # decisions on the new primary
        done.set()
        await asyncio.gather(*workers)
        await gate.aclose()
        recorded = set()
        with redis_cluster.client(target) as client:
            for customer in customers:
                for key in client.keys(f"{customer_key_prefix(customer)}c:*"):
                    recorded.update(client.zrange(key, 0, -1))
        return {
            "moved": moved,
            "returned": returned,
            "errors": errors,
            "recorded": recorded,
            "bystander": bystander,
        }

    result = asyncio.run(scenario())
    returned = result["returned"]
    assert result["moved"] >= 4
    assert {c: len(returned[c]) for c in customers} == dict.fromkeys(customers, 3), returned
    assert result["recorded"] == {r for c in customers for r in returned[c]}
    assert result["errors"]["bystander"] == 0, result["errors"]
    assert result["errors"]["StoreBusyError"] > 0, "decisions met the slot in motion"


def test_a_slot_in_migration_degrades_its_decisions_without_opening_the_breaker(
    redis_cluster: RedisClusterNodes, demo_bundle: Bundle
) -> None:
    """While a slot is marked MIGRATING, a script naming keys of which some are there and
    some not is answered TRYAGAIN: its decisions degrade (StoreBusyError), but the primary
    answers, so its breaker stays closed for its other customers."""
    ranked = [o.id for o in demo_bundle.offers if "web" in o.channels]
    customer = "C-migrating"
    slot = key_slot(customer_key_prefix(customer).encode())

    async def scenario() -> tuple[list[str | None], bool, str | None]:
        store = _store(redis_cluster, timeout_s=1.0)
        # A generous budget: each decision retries TRYAGAIN for half of it, and on a loaded
        # machine one try of a 50 ms budget can miss its reply (a timeout, not TRYAGAIN).
        gate = PressureGate(store, budget_s=0.4)
        await store.prepare()
        await gate.select(demo_bundle.policies, customer, "web", "d0", ranked, 1, True)
        source = _port(store.shard(customer))
        target = next(p for p in redis_cluster.primaries() if p != source)
        with redis_cluster.client(target) as new, redis_cluster.client(source) as old:
            new.execute_command(
                "CLUSTER", "SETSLOT", slot, "IMPORTING", redis_cluster.node_id(source)
            )
            old.execute_command(
                "CLUSTER", "SETSLOT", slot, "MIGRATING", redis_cluster.node_id(target)
            )
        errors = []
        for n in range(5):
            result = await gate.select(
                demo_bundle.policies, customer, "web", f"d{n + 1}", ranked, 1, True
            )
            errors.append(_error_class(result.store_error))
        still_closed = not gate.breakers[store.shard(customer)].is_open
        for port in (source, target):
            with redis_cluster.client(port) as client:
                client.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")
        after = await gate.select(demo_bundle.policies, customer, "web", "d9", ranked, 1, True)
        await gate.aclose()
        return errors, still_closed, _error_class(after.store_error)

    errors, still_closed, after = asyncio.run(scenario())
    assert errors == ["StoreBusyError"] * 5
    assert still_closed
    assert after is None


def restart_killed_nodes(cluster: RedisClusterNodes) -> None:
    """Start the nodes a test killed again (they rejoin as replicas) and wait for ok."""
    for port in set(cluster.ports) - set(cluster.running):
        cluster.start(port)
    cluster.wait_ok()


@pytest.mark.slow
def test_caps_hold_across_three_service_replicas_under_a_300_decision_burst(
    redis_cluster: RedisClusterNodes, start_server: StartServer, demo_bundle: Bundle
) -> None:
    env = {
        "NEXTBEST_REDIS_URL": redis_cluster.url,
        "NEXTBEST_REDIS_CLUSTER": "true",
        "NEXTBEST_REDIS_BUDGET_MS": "1000",
        "NEXTBEST_QUEUE_DEADLINE_MS": "30000",  # every decision is answered, none shed
        "NEXTBEST_LOG_LEVEL": "warning",
    }
    bases = [start_server(env=env).base for _ in range(3)]
    body = decision_request(customer_id="C-burst", channel="web", stage="loyal", clv=2000.0)
    body["dry_run"] = False

    async def burst() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(
            timeout=60, limits=httpx.Limits(max_connections=300)
        ) as client:
            responses = await asyncio.gather(
                *(client.post(f"{bases[i % 3]}/v1/decisions", json=body) for i in range(300))
            )
        assert {r.status_code for r in responses} == {200}
        return [r.json() for r in responses]

    results = asyncio.run(burst())
    sales = [o for r in results for o in r["offers"] if o["category"] in SALES]
    assert len(sales) == 3
    assert [r["degraded"] for r in results if r["degraded"]] == []
    returned = {
        f"{r['decision_id']}:{o['offer_id']}"
        for r in results
        for o in r["offers"]
        if demo_bundle.policies.needs_check("web", o["offer_id"])
    }
    recorded: set[str] = set()
    for port in redis_cluster.primaries():
        with redis_cluster.client(port) as client:
            for key in client.keys(f"{customer_key_prefix('C-burst')}c:*"):
                recorded.update(client.zrange(key, 0, -1))
    assert recorded == returned


def test_an_unreachable_cluster_raises_store_unavailable() -> None:
    store = RedisContactStore.from_url(
        f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2, cluster=True
    )

    async def scenario() -> list[str]:
        failures = []
        for call in (
            store.prepare,
            store.ping,
            lambda: store.select("C-1", "d1", _offers("a"), 3, NOW, True),
            lambda: store.release("C-1", "d1", _offers("a"), NOW),
        ):
            try:
                await call()
            except StoreUnavailableError as exc:
                failures.append(str(exc))
        await store.aclose()
        return failures

    assert len(asyncio.run(scenario())) == 4


def _error_class(store_error: str | None) -> str | None:
    """`StoreBusyError` of the gate's `StoreBusyError: redis: ...`."""
    return None if store_error is None else store_error.split(":", 1)[0]
