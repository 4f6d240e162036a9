"""The service on a Redis Cluster: bursts for one customer, and a primary killed in traffic.

    .venv/bin/python loadtests/bench_cluster.py [--bursts 5] [--failovers 3] [--wait-calls 2000]

Starts its own Redis Cluster (three primaries, three replicas, `appendfsync always`,
`cluster-node-timeout` `--node-timeout-ms`) and three nextbest servers (one worker each,
`NEXTBEST_REDIS_CLUSTER=true`, the default 10 ms budget unless `--budget-ms`), then:

1. **Bursts.** `--bursts` times, `--burst-size` concurrent recorded decisions (`web`,
   `limit 3`) for one new customer, spread over the three servers. Prints per burst the
   capped offers returned (the demo's cap: 3 per 7 days), whether the contacts recorded
   on the customer's primary are exactly those returned, and the degraded answers.
2. **Failovers.** `--failovers` times: eight streams of recorded decisions for ever new
   customers (so spread over every slot) against one server; a primary is killed with
   SIGKILL and the cluster promotes its replica by itself. Prints the time from the kill
   to the last degraded answer for a customer of the dead primary's slots (the outage as
   clients see it) and to the first healthy one (0.5 s after the kill or later), the
   degraded answers in the second before the kill (what the load alone degrades) and
   after it, for its customers and the others (expected: no more than before), what
   `/health/ready` said during the outage, and whether every contact recorded on the dead
   primary before the kill is on the promoted replica. The killed node is then started
   again (it rejoins as a replica) before the next round.
3. **The cost of WAIT** (`--wait-calls` > 0). In this process, the store's recorded
   select (3 capped candidates, limit 1, ever new decisions over 1,000 customers) against
   the cluster without WAIT and with `WAIT 1`, `--wait-rounds` rounds alternating the two:
   p50 and p99 of one call's time, one call at a time and 16 at once. Prints each round
   and the medians.

The servers run with the service's default `NEXTBEST_REDIS_WAIT_REPLICAS` (1 on a
cluster) unless `--wait-replicas` says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _servers import RedisClusterNodes, nextbest_server
from bench_burst import CAP, burst_body
from redis.crc import key_slot

from nextbest.bundle import load_bundle
from nextbest.config import default_bundle_path
from nextbest.pressure import StoreUnavailableError
from nextbest.pressure.redis import RedisContactStore, customer_key_prefix
from nextbest.pressure.types import Cap, CapCandidate

WINDOW = "c:sales_3_per_7_days"


def _slot(customer: str) -> int:
    return key_slot(customer_key_prefix(customer).encode())


def _owner_ports(cluster: RedisClusterNodes) -> dict[int, int]:
    """Slot -> port of its primary, as the first running node sees it."""
    with cluster.client(cluster.running[0]) as client:
        ranges = client.execute_command("CLUSTER", "SLOTS")
    return {
        slot: int(nodes[0][1])
        for start, end, *nodes in ranges
        for slot in range(int(start), int(end) + 1)
    }


def _window(cluster: RedisClusterNodes, customer: str) -> set[str]:
    port = _owner_ports(cluster)[_slot(customer)]
    with cluster.client(port) as client:
        return set(client.zrange(customer_key_prefix(customer) + WINDOW, 0, -1))


async def _burst(
    bases: Sequence[str], cluster: RedisClusterNodes, n: int, size: int, capped: set[str]
) -> tuple[bool, float]:
    customer = f"C-burst-{n}-{time.time_ns()}"
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        answers = await asyncio.gather(
            *(
                client.post(f"{bases[i % len(bases)]}/v1/decisions", json=burst_body(customer))
                for i in range(size)
            )
        )
    bodies = [a.json() for a in answers if a.status_code == 200]
    returned = {
        f"{b['decision_id']}:{o['offer_id']}"
        for b in bodies
        for o in b["offers"]
        if o["offer_id"] in capped
    }
    recorded = _window(cluster, customer)
    degraded = sum(1 for b in bodies if b["degraded"])
    others = len(answers) - len(bodies)
    share = degraded / size
    held = len(returned) == CAP and recorded == returned
    print(
        f"  burst {n + 1}: {len(returned)} capped offers returned, {len(recorded)} recorded, "
        f"recorded == returned: {recorded == returned}, degraded {degraded}/{size} "
        f"({share:.1%}), not 200: {others}"
    )
    return held, share


@dataclass(frozen=True)
class Answer:
    sent: float
    customer: str
    degraded: bool
    status: int


async def _stream(
    base: str, names: itertools.count[int], stop: asyncio.Event, answers: list[Answer]
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        while not stop.is_set():
            customer = f"C-fo-{next(names)}"
            sent = time.monotonic()
            response = await client.post(f"{base}/v1/decisions", json=burst_body(customer))
            degraded = response.status_code != 200 or bool(response.json()["degraded"])
            answers.append(Answer(sent, customer, degraded, response.status_code))


async def _failover(base: str, cluster: RedisClusterNodes, round_: int) -> dict[str, Any]:
    owners = _owner_ports(cluster)
    victim = sorted(set(owners.values()))[round_ % 3]
    victim_slots = {slot for slot, port in owners.items() if port == victim}
    replica = cluster.replica_of(victim)
    stop = asyncio.Event()
    answers: list[Answer] = []
    names = itertools.count(round_ * 10_000_000)
    streams = [asyncio.create_task(_stream(base, names, stop, answers)) for _ in range(8)]
    await asyncio.sleep(1.0)
    with cluster.client(victim) as client:  # contacts recorded on the victim so far
        before = {
            key: set(client.zrange(key, 0, -1)) for key in client.scan_iter(match=f"*:{WINDOW}")
        }
    killed = time.monotonic()
    await asyncio.to_thread(cluster.kill, victim)
    ready_during = []
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() - killed < 30:
            health = (await client.get(f"{base}/health/ready")).json()
            ready_during.append(health.get("contact_store"))
            promoted = await asyncio.to_thread(cluster.primaries)
            if replica in promoted and any(
                a.sent > killed and _slot(a.customer) in victim_slots and not a.degraded
                for a in answers[-200:]
            ):
                break
            await asyncio.sleep(0.1)
    await asyncio.sleep(2.0)  # answers after the recovery
    stop.set()
    await asyncio.gather(*streams)
    baseline = [a for a in answers if killed - 1.0 <= a.sent < killed]
    after_kill = [a for a in answers if a.sent >= killed]
    victims = [a for a in after_kill if _slot(a.customer) in victim_slots]
    others = [a for a in after_kill if _slot(a.customer) not in victim_slots]
    last_degraded = max((a.sent for a in victims if a.degraded), default=killed)
    first_healthy = min(
        (a.sent for a in victims if not a.degraded and a.sent > killed + 0.5), default=math.nan
    )
    with cluster.client(replica) as client:
        kept = all(set(client.zrange(key, 0, -1)) >= members for key, members in before.items())
    await asyncio.to_thread(cluster.start, victim)
    await asyncio.to_thread(cluster.wait_ok)
    return {
        "outage_s": last_degraded - killed,
        "first_healthy_s": first_healthy - killed,
        "baseline": f"{sum(a.degraded for a in baseline)}/{len(baseline)}",
        "victims": f"{sum(a.degraded for a in victims)}/{len(victims)}",
        "others": f"{sum(a.degraded for a in others)}/{len(others)}",
        "others_degraded": sum(a.degraded for a in others),
        "ready": sorted({str(r) for r in ready_during}),
        "kept": kept,
        "windows": len(before),
    }


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


async def _store_calls(url: str, wait_replicas: int, calls: int, streams: int) -> list[float]:
    """Seconds per recorded select, `streams` at a time."""
    store = RedisContactStore.from_url(
        url, timeout_s=0.25, warm_connections=streams, cluster=True, wait_replicas=wait_replicas
    )
    await store.prepare()
    cap = Cap("many", 1_000_000, 7 * 86_400_000)
    candidates = [CapCandidate(f"offer-{i}", (cap,)) for i in range(3)]
    now_ms = time.time_ns() // 1_000_000
    names = itertools.count()
    durations: list[float] = []

    async def stream() -> None:
        while (n := next(names)) < calls:
            started = time.perf_counter()
            with contextlib.suppress(StoreUnavailableError):  # counted at its budget
                await store.select(
                    f"C-wait-{n % 1000}",
                    f"d{wait_replicas}-{n}",
                    candidates,
                    1,
                    now_ms,
                    True,
                    None,
                    0.25,
                )
            durations.append(time.perf_counter() - started)

    await asyncio.gather(*(stream() for _ in range(streams)))
    await store.aclose()
    return durations


def _wait_cost(url: str, calls: int, rounds: int) -> None:
    print(f"the cost of WAIT: {calls} recorded selects per run, {rounds} rounds (ms):")
    for streams in (1, 16):
        figures: dict[int, list[tuple[float, float]]] = {0: [], 1: []}
        for round_ in range(rounds):
            for wait in (0, 1) if round_ % 2 == 0 else (1, 0):
                durations = asyncio.run(_store_calls(url, wait, calls, streams))
                p50, p99 = (_percentile(durations, q) * 1000 for q in (0.5, 0.99))
                figures[wait].append((p50, p99))
                print(f"  {streams} at once, WAIT {wait}: p50 {p50:.3f}, p99 {p99:.3f}")
        for wait, runs in figures.items():
            print(
                f"  {streams} at once, WAIT {wait}, median of {rounds}: "
                f"p50 {statistics.median(r[0] for r in runs):.3f}, "
                f"p99 {statistics.median(r[1] for r in runs):.3f}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=5)
    parser.add_argument("--burst-size", type=int, default=300)
    parser.add_argument("--failovers", type=int, default=3)
    parser.add_argument("--budget-ms", type=int, default=10)
    parser.add_argument("--node-timeout-ms", type=int, default=1000)
    parser.add_argument("--wait-replicas", type=int, default=None)
    parser.add_argument("--wait-calls", type=int, default=0)
    parser.add_argument("--wait-rounds", type=int, default=3)
    args = parser.parse_args(argv)
    bundle = load_bundle(default_bundle_path())
    capped = {o.id for o in bundle.offers if bundle.policies.needs_check("web", o.id)}
    with tempfile.TemporaryDirectory(prefix="nextbest-bench-cluster-") as workdir:
        cluster = RedisClusterNodes(Path(workdir), node_timeout_ms=args.node_timeout_ms)
        cluster.start()
        env = {
            "NEXTBEST_REDIS_URL": cluster.url,
            "NEXTBEST_REDIS_CLUSTER": "true",
            "NEXTBEST_REDIS_BUDGET_MS": str(args.budget_ms),
            "NEXTBEST_LOG_LEVEL": "warning",
            "NEXTBEST_HISTORY_SINK": "off",
        }
        if args.wait_replicas is not None:
            env["NEXTBEST_REDIS_WAIT_REPLICAS"] = str(args.wait_replicas)
        try:
            if args.wait_calls:
                _wait_cost(cluster.url, args.wait_calls, args.wait_rounds)
            if args.bursts or args.failovers:
                with (
                    nextbest_server(log_dir=Path(workdir), env=env) as one,
                    nextbest_server(log_dir=Path(workdir), env=env) as two,
                    nextbest_server(log_dir=Path(workdir), env=env) as three,
                ):
                    bases = [one.base, two.base, three.base]
                    print(
                        f"{args.bursts} bursts of {args.burst_size} decisions for one customer "
                        f"over 3 servers, budget {args.budget_ms} ms:"
                    )
                    bursts = [
                        asyncio.run(_burst(bases, cluster, n, args.burst_size, capped))
                        for n in range(args.bursts)
                    ]
                    shares = [share for _, share in bursts]
                    if shares:
                        print(
                            f"  goals held in {sum(h for h, _ in bursts)}/{len(bursts)} bursts; "
                            f"degraded median {statistics.median(shares):.1%} "
                            f"(range {min(shares):.1%} to {max(shares):.1%})"
                        )
                    print(
                        f"{args.failovers} primaries killed in traffic (8 streams, one server), "
                        f"cluster-node-timeout {args.node_timeout_ms} ms, automatic failover:"
                    )
                    outages = []
                    for n in range(args.failovers):
                        result = asyncio.run(_failover(one.base, cluster, n))
                        outages.append(result["outage_s"])
                        print(
                            f"  failover {n + 1}: outage {result['outage_s']:.2f} s (first healthy "
                            f"answer for its customers after {result['first_healthy_s']:.2f} s), "
                            f"degraded in the second before the kill {result['baseline']}, after: "
                            f"dead primary's customers {result['victims']}, others "
                            f"{result['others']}; readiness said {result['ready']}; "
                            f"contacts kept on the promoted replica: {result['kept']} "
                            f"({result['windows']} windows)"
                        )
                    if outages:
                        print(f"  outage median {statistics.median(outages):.2f} s")
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
