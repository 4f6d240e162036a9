"""Redis memory per million customers, with the demo bundle's contact policies.

    .venv/bin/python loadtests/redis_memory.py --customers 100000 [--cluster]

Starts its own redis-server on a free loopback port (with `--cluster`: a one-node Redis
Cluster owning every slot, to include the cluster's per-key bookkeeping), then gives each
of N customers what a contacted customer holds: `--decisions` recorded decisions (not dry
runs: a seeded request's ranking through the gate and store a decision uses), and a
`declined` feedback for the first offer it was given (a back-off marker, a decline counter, an
idempotency key). Prints the keys per customer and `used_memory` (INFO memory) per
customer and per million customers. What a million customers cost scales with what they
hold: customers never contacted hold nothing; TTLs remove what the policies no longer need.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator

import redis
from _servers import ServerError, free_port, redis_server
from bench_decide import requests

from nextbest.bundle import load_bundle
from nextbest.config import default_bundle_path
from nextbest.decide import Decider
from nextbest.logging import configure_logging
from nextbest.pressure.gate import PressureGate
from nextbest.pressure.redis import RedisContactStore

BATCH = 100


@contextlib.contextmanager
def _one_node_cluster() -> Iterator[str]:
    """A redis-server in cluster mode that owns all 16,384 slots; its URL."""
    with tempfile.TemporaryDirectory(prefix="nextbest-cluster-") as workdir:
        port = free_port()
        binary = shutil.which("redis-server") or "redis-server"
        process = subprocess.Popen(
            [
                binary,
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--cluster-enabled", "yes",
                "--save", "",
                "--appendonly", "no",
                "--dir", workdir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            client = redis.Redis(port=port, decode_responses=True)
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise ServerError("the cluster node did not start") from None
                    time.sleep(0.05)
            while "cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
                if time.monotonic() > deadline:
                    raise ServerError("the one-node cluster did not reach state ok")
                time.sleep(0.05)
            client.close()
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


@contextlib.contextmanager
def _server(cluster: bool) -> Iterator[str]:
    if cluster:
        with _one_node_cluster() as url:
            yield url
        return
    with redis_server() as url:
        yield url


async def _fill(url: str, cluster: bool, customers: int, decisions: int) -> None:
    """Ranks 1,000 seeded requests once, then records each customer's decisions with one
    of those rankings through the gate (the store call a decision makes)."""
    bundle = load_bundle(default_bundle_path())
    decider = Decider(bundle)
    policies = bundle.policies
    seeded = requests(bundle, 1000, seed=7)
    ranked = await asyncio.gather(*(decider.rank_together(r, "rank") for r in seeded))
    rankings = [(r.context.channel, k.order, r.limit) for r, k in zip(seeded, ranked, strict=True)]
    store = RedisContactStore.from_url(url, timeout_s=5.0, cluster=cluster)
    gate = PressureGate(store, budget_s=5.0)
    await store.prepare()
    now_ms = gate.clock_ms()

    async def customer(n: int) -> None:
        customer_id = f"C-{n:08d}"
        first = None
        for d in range(decisions):
            channel, order, limit = rankings[(n * decisions + d) % len(rankings)]
            decision_id = f"{n:08d}-{d}"
            result = await gate.select(
                policies, customer_id, channel, decision_id, order, limit, True
            )
            if first is None and result.selected:
                first = (channel, result.selected[0], decision_id)
        if first is not None:
            channel, offer, decision_id = first
            contact = f"{decision_id}:{offer}"
            effect = policies.feedback_effect(
                channel, offer, "declined", contact, f"{contact}:declined"
            )
            await gate.feedback(customer_id, effect, now_ms)

    for start in range(0, customers, BATCH):
        await asyncio.gather(*(customer(n) for n in range(start, min(start + BATCH, customers))))
    await gate.aclose()


def _used_memory(url: str) -> tuple[int, int]:
    with redis.Redis.from_url(url) as client:
        return int(client.info("memory")["used_memory"]), int(client.dbsize())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=2, help="recorded per customer")
    parser.add_argument("--cluster", action="store_true", help="a one-node Redis Cluster")
    args = parser.parse_args()
    configure_logging("console", "warning")
    with _server(args.cluster) as url:
        empty, _ = _used_memory(url)
        started = time.monotonic()
        asyncio.run(_fill(url, args.cluster, args.customers, args.decisions))
        filled, keys = _used_memory(url)
    per_customer = (filled - empty) / args.customers
    print(
        f"{'cluster node' if args.cluster else 'redis-server'}: {args.customers:,} customers, "
        f"{args.decisions} recorded decisions and 1 decline each, "
        f"filled in {time.monotonic() - started:.0f} s"
    )
    print(f"keys per customer:        {keys / args.customers:.2f}")
    print(f"used_memory per customer: {per_customer:.0f} bytes")
    print(f"per million customers:    {per_customer * 1e6 / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
