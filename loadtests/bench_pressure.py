"""Added latency of the Redis contact store over the embedded one, per decision.

    .venv/bin/python loadtests/bench_pressure.py --decisions 5000

Starts its own redis-server on a free loopback port (or uses --redis-url), runs the same
seeded decisions (recorded, not dry runs) through the embedded store and through Redis,
and prints p50/p99 of the whole decision and of the contact-pressure stage, the added
latency per decision, and the requests redis-server read per decision (round trips: each
request a client sends is one read of its socket; with --redis-url, other clients' count).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import dataclass

import redis
from _servers import redis_server
from bench_decide import percentile, requests

from nextbest.bundle import load_bundle
from nextbest.config import default_bundle_path
from nextbest.decide import Decider, DecisionRequest
from nextbest.pressure import MemoryContactStore
from nextbest.pressure.gate import PressureGate
from nextbest.pressure.redis import RedisContactStore
from nextbest.service import decide


def _reads(url: str) -> int:
    """The requests redis-server has read so far, this one's included."""
    with redis.Redis.from_url(url) as client:
        reads: int = client.info("stats")["total_reads_processed"]
    return reads


async def _decide(
    decider: Decider, gate: PressureGate, request: DecisionRequest
) -> tuple[float, float]:
    started = time.perf_counter_ns()
    decision = await decide(decider, gate, request)
    assert not decision.response.degraded, "the store failed during the benchmark"
    return (time.perf_counter_ns() - started) / 1000, decision.timings.pressure_ns / 1000


async def _run(
    decider: Decider, url: str, batch: list[DecisionRequest], warmup: int
) -> tuple[dict[str, list[tuple[float, float]]], int]:
    """The same decisions, interleaved one by one on the two stores, so that both see the
    same machine noise. Returns timings per store and the Redis requests sent."""
    gates = {
        "embedded": PressureGate(MemoryContactStore(), budget_s=1.0),
        "redis": PressureGate(RedisContactStore.from_url(url, timeout_s=1.0), budget_s=1.0),
    }
    timings: dict[str, list[tuple[float, float]]] = {name: [] for name in gates}
    for request in batch[:warmup]:
        for gate in gates.values():
            await _decide(decider, gate, request)
    reads_before = _reads(url)
    for request in batch[warmup:]:
        for name, gate in gates.items():
            timings[name].append(await _decide(decider, gate, request))
    sent = _reads(url) - reads_before - 1
    for gate in gates.values():
        await gate.aclose()
    return timings, sent


def recorded_requests(decider: Decider, decisions: int, customers: int) -> list[DecisionRequest]:
    """bench_decide's seeded requests, recorded (not dry runs), over `customers` ids."""
    return [
        DecisionRequest(
            customer=r.customer.__class__(
                id=f"C-{n % customers}",
                clv=r.customer.clv,
                lifecycle_stage=r.customer.lifecycle_stage,
                attributes=r.customer.attributes,
            ),
            context=r.context,
            limit=3,
            explain=False,
            dry_run=False,
        )
        for n, r in enumerate(requests(decider.bundle, decisions, seed=11))
    ]


@dataclass(frozen=True)
class PressureResult:
    timings: dict[str, list[tuple[float, float]]]
    """Per store: (decision us, contact-pressure stage us) for each measured decision."""
    customers: int
    warmup: int
    sent: int
    """Requests the Redis client sent while measuring."""
    evalsha: int
    """EVALSHA calls redis-server counted, warm-up included."""


def measure(
    decider: Decider, url: str, decisions: int, customers: int, warmup: int
) -> PressureResult:
    """The same recorded decisions through both stores; `url` names an empty Redis.
    Raises ValueError when no decision would be left after the warm-up."""
    if decisions <= warmup:
        raise ValueError(f"{decisions} decisions leave none to measure after a warm-up of {warmup}")
    batch = recorded_requests(decider, decisions, customers)
    with redis.Redis.from_url(url) as client:
        client.config_resetstat()
    timings, sent = asyncio.run(_run(decider, url, batch, warmup))
    with redis.Redis.from_url(url) as client:
        evalsha = client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    return PressureResult(timings, customers, warmup, sent, evalsha)


def report(result: PressureResult) -> None:
    timings = result.timings
    n = len(timings["redis"])
    print(f"{n} recorded decisions over {result.customers} customers, demo bundle, in process,")
    print(f"each decision run on both stores in turn (after a warm-up of {result.warmup})")
    print(f"{'store':<10} {'decision p50':>13} {'p99':>8} {'pressure p50':>13} {'p99':>8}  (us)")
    for name, pairs in timings.items():
        total = [t for t, _ in pairs]
        stage = [p for _, p in pairs]
        print(
            f"{name:<10} {percentile(total, 0.5):13.1f} {percentile(total, 0.99):8.1f} "
            f"{percentile(stage, 0.5):13.1f} {percentile(stage, 0.99):8.1f}"
        )
    added = [r - e for (r, _), (e, _) in zip(timings["redis"], timings["embedded"], strict=True)]
    print(
        f"added by redis per decision: p50 {percentile(added, 0.5):.1f} us, "
        f"p99 {percentile(added, 0.99):.1f} us"
    )
    print(
        f"redis round trips per decision: {result.sent / n:.3f} "
        f"(EVALSHA calls in total: {result.evalsha})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()
    if args.decisions <= args.warmup:
        parser.error(f"--decisions must be over the warm-up ({args.warmup})")

    decider = Decider(load_bundle(default_bundle_path()))
    with contextlib.ExitStack() as stack:
        url = args.redis_url or stack.enter_context(redis_server())
        result = measure(decider, url, args.decisions, args.customers, args.warmup)
    report(result)


if __name__ == "__main__":
    main()
