"""What an experiment costs a decision (in process, no HTTP): the demo bundle as it is
against the same bundle with an experiment covering every channel.

    .venv/bin/python loadtests/bench_experiments.py --decisions 5000 --rounds 5

The experiment has four arms (champion, a `no_offer` control, `rules_only`, and new
levers with context weights); every request falls in one of them. The two bundles are
measured in alternating rounds on the same seeded requests (bench_decide.py's); each
round prints the median microseconds per decision and per `rules` stage (facts, the arm
step and eligibility), and the last line the medians over the rounds.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import yaml
from bench_decide import requests

from nextbest.bundle import Bundle, load_bundle, seal_bundle
from nextbest.config import default_bundle_path
from nextbest.decide import Decider, DecisionRequest

EXPERIMENT = {
    "id": "bench",
    "salt": "bench",
    "arms": [
        {"id": "champion", "share": 0.4},
        {"id": "control", "share": 0.2, "policy": "no_offer"},
        {"id": "rules", "share": 0.2, "policy": "rules_only"},
        {
            "id": "push",
            "share": 0.2,
            "levers": {"upsell": 1.5},
            "context_weights": {"call_reason": {"move_house": {"cross_sell": 2.0}}},
        },
    ],
}


def with_experiment(source: Path, target: Path) -> Bundle:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("training"))
    (target / "experiments.yaml").write_text(yaml.safe_dump({"experiments": [EXPERIMENT]}))
    seal_bundle(target)
    return load_bundle(target)


def run(decider: Decider, batch: list[DecisionRequest]) -> tuple[float, float]:
    """Median microseconds per decision and per rules stage."""
    total, rules = [], []
    for request in batch:
        started = time.perf_counter_ns()
        decision = decider.decide(request)
        total.append((time.perf_counter_ns() - started) / 1000)
        rules.append(decision.timings.rules_ns / 1000)
    return statistics.median(total), statistics.median(rules)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", type=Path, default=default_bundle_path())
    parser.add_argument("--decisions", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    plain = load_bundle(args.bundle)
    with tempfile.TemporaryDirectory() as scratch:
        deciders = {
            "without": Decider(plain),
            "with": Decider(with_experiment(args.bundle, Path(scratch) / "bundle")),
        }
    batch = requests(plain, args.decisions, args.seed)
    for decider in deciders.values():
        run(decider, batch[:500])  # warm-up
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in deciders}
    print(f"{'round':<6} {'bundle':<8} {'decision p50 us':>16} {'rules p50 us':>13}")
    for round_number in range(1, args.rounds + 1):
        for name, decider in deciders.items():
            results[name].append(run(decider, batch))
            total, rules = results[name][-1]
            print(f"{round_number:<6} {name:<8} {total:16.1f} {rules:13.1f}")
    for name, rows in results.items():
        total = statistics.median(r[0] for r in rows)
        rules = statistics.median(r[1] for r in rows)
        print(f"median {name:<8} {total:16.1f} {rules:13.1f}")


if __name__ == "__main__":
    main()
