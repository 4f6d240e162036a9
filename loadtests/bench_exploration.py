"""The CPU cost of exploring, per decision, in process: the same request decided greedily,
with epsilon-greedy (caps that leave room, and a cap the decision's own picks fill) and
with Thompson sampling.

    .venv/bin/python loadtests/bench_exploration.py [--decisions 2000] [--rounds 3] [--matrix]

Each variant runs the whole decision (`nextbest.service.decide`: rules, scoring,
arbitration, exploration plan, the embedded contact store, the logged propensities) on a
copy of the demo bundle with an `exploration.yaml`; dry runs, so every decision sees the
same store. It prints the CPU time (process time) per decision, the median over the
rounds, and each variant's extra cost against the greedy one measured in the same round.
`--matrix` also times `thompson_matrix` alone (3 slots, n0 = 50) at 5, 11 and 20 offers
drawn like the demo's (propensities 0.03-0.3, keys spread over a factor of about 60):
the best and the median of `--repeats` calls after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import structlog
import yaml

from nextbest.bundle import load_bundle, seal_bundle
from nextbest.decide import Decider
from nextbest.decide.types import Context, Customer, DecisionRequest
from nextbest.pressure import MemoryContactStore
from nextbest.pressure.gate import PressureGate
from nextbest.service import decide

DEMO = Path(__file__).resolve().parents[1] / "models" / "demo-energy"
EXPLORATION = {
    "exploration": [
        {"channel": "web", "placement": "epsilon", "epsilon": 0.1},
        {"channel": "call_center", "placement": "epsilon", "epsilon": 0.1},
        {"channel": "web", "placement": "thompson", "thompson": {"prior_strength": 50}},
    ]
}
VARIANTS = {
    "greedy (web)": ("web", None),
    "epsilon 0.1 (web, caps with room)": ("web", "epsilon"),
    "epsilon 0.1 (call_center, a cap its picks fill)": ("call_center", "epsilon"),
    "thompson n0=50 (web)": ("web", "thompson"),
}


def _request(channel: str, placement: str | None) -> DecisionRequest:
    return DecisionRequest(
        customer=Customer(id="C-bench", clv=1200.0),
        context=Context(channel=channel, placement=placement, call_reason="move_house"),
        limit=3,
        dry_run=True,
    )


async def _cpu_per_decision(decider: Decider, request: DecisionRequest, n: int) -> float:
    gate = PressureGate(MemoryContactStore(), budget_s=1.0)
    for _ in range(min(50, n)):
        await decide(decider, gate, request)  # warm up
    started = time.process_time()
    for _ in range(n):
        await decide(decider, gate, request)
    return (time.process_time() - started) / n


def _matrix_times(repeats: int) -> None:
    from nextbest.exploration.thompson import thompson_matrix

    rng = np.random.default_rng(3)
    print(f"thompson_matrix alone, k = 3, n0 = 50 (best and median of {repeats} calls)")
    for n in (5, 11, 20):
        propensity = rng.uniform(0.03, 0.3, n)
        scale = np.exp(rng.uniform(np.log(30.0), np.log(900.0), n))
        for _ in range(5):
            thompson_matrix(propensity, scale, 3, 50.0)
        times = []
        for _ in range(repeats):
            started = time.process_time()
            thompson_matrix(propensity, scale, 3, 50.0)
            times.append(time.process_time() - started)
        best, median = min(times) * 1e6, statistics.median(times) * 1e6
        print(f"  {n:2d} offers   best {best:8.0f} us   median {median:8.0f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--matrix", action="store_true", help="also time thompson_matrix alone")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    if args.matrix:
        _matrix_times(args.repeats)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "bundle"
        shutil.copytree(DEMO, root)
        (root / "exploration.yaml").write_text(yaml.safe_dump(EXPLORATION))
        seal_bundle(root)
        decider = Decider(load_bundle(root))
        results: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for _ in range(args.rounds):
            for name, (channel, placement) in VARIANTS.items():
                request = _request(channel, placement)
                results[name].append(
                    asyncio.run(_cpu_per_decision(decider, request, args.decisions))
                )
    greedy = results["greedy (web)"]
    print(f"CPU per decision, median of {args.rounds} rounds of {args.decisions} decisions")
    for name, times in results.items():
        extra = statistics.median(t - g for t, g in zip(times, greedy, strict=True))
        print(f"  {name:50s} {statistics.median(times) * 1e6:8.0f} us   +{extra * 1e6:6.0f} us")


if __name__ == "__main__":
    main()
