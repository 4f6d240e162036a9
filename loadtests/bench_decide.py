"""In-process decision time on a bundle (no HTTP): p50, p99 and the split by stage.

    .venv/bin/python loadtests/bench_decide.py --decisions 10000

Requests are drawn, seeded, from the demo's call reasons, stages, waits and CLVs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from nextbest.bundle import Bundle, load_bundle
from nextbest.config import default_bundle_path
from nextbest.decide import Context, Customer, Decider, DecisionRequest


def requests(bundle: Bundle, count: int, seed: int) -> list[DecisionRequest]:
    rng = random.Random(seed)
    vocabulary = bundle.vocabulary
    products = sorted({o.product for o in bundle.offers if o.product})
    return [
        DecisionRequest(
            customer=Customer(
                id=f"C-{rng.randrange(1_000_000)}",
                clv=round(rng.lognormvariate(6.8, 0.7), 2),
                lifecycle_stage=rng.choice(vocabulary.lifecycle_stages),
                attributes={
                    "tenure_months": rng.randrange(0, 120),
                    "churn_score": round(rng.random(), 3),
                    "owned_products": rng.sample(products, rng.randrange(0, 4)),
                },
            ),
            context=Context(
                channel=rng.choice(vocabulary.channels),
                call_reason=rng.choice(vocabulary.call_reasons),
                wait_time_s=round(rng.expovariate(1 / 120), 1),
            ),
            limit=3,
            explain=n % 10 == 0,
            dry_run=True,
        )
        for n in range(count)
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


STAGES = ("total", "rules", "scoring", "arbitration")


def measure(bundle: Bundle, decisions: int, seed: int) -> dict[str, list[float]]:
    """Microseconds per decision, whole and per stage, after a warm-up of 500; and
    `cpu`, the thread's CPU time over all of them divided by their number (on a shared
    machine the wall-clock figures count the time other processes had the core)."""
    decider = Decider(bundle)
    batch = requests(bundle, decisions, seed)
    for request in batch[:500]:
        decider.decide(request)

    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    cpu_started = time.thread_time_ns()
    for request in batch:
        started = time.perf_counter_ns()
        decision = decider.decide(request)
        samples["total"].append((time.perf_counter_ns() - started) / 1000)
        samples["rules"].append(decision.timings.rules_ns / 1000)
        samples["scoring"].append(decision.timings.scoring_ns / 1000)
        samples["arbitration"].append(decision.timings.arbitration_ns / 1000)
    samples["cpu"] = [(time.thread_time_ns() - cpu_started) / 1000 / len(batch)]
    return samples


def report(bundle: Bundle, samples: dict[str, list[float]]) -> None:
    print(
        f"bundle {bundle.name} {bundle.version}: {len(bundle.offers)} offers, "
        f"{len(bundle.rules)} rules, {len(bundle.models)} models; "
        f"{len(samples['total'])} decisions (10 % with explain)"
    )
    print(f"{'stage':<12} {'p50 us':>8} {'p99 us':>8} {'mean us':>8}")
    for name, values in samples.items():
        if name == "cpu":
            print(f"{'cpu':<12} {'':>8} {'':>8} {values[0]:8.1f}  (CPU time per decision)")
            continue
        print(
            f"{name:<12} {percentile(values, 0.5):8.1f} {percentile(values, 0.99):8.1f} "
            f"{statistics.fmean(values):8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", type=Path, default=default_bundle_path())
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    bundle = load_bundle(args.bundle)
    report(bundle, measure(bundle, args.decisions, args.seed))


if __name__ == "__main__":
    main()
