"""What scoring only a decision's eligible offers saves: the demo model's CPU per decision
in runs of several decisions, over every offer against over the eligible ones.

    .venv/bin/python loadtests/bench_scored_rows.py [--decisions 400] [--batch 5] [--rounds 4]

The requests are bench_decide.py's (seeded); each is screened once (its facts and its
eligible offers), then the same runs are scored both ways, alternating round by round in
one process so that both see the same machine. Each figure is the best of seven passes
over the requests (process CPU time per decision); the last lines give the medians over
the rounds and the rows a run scores on average.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from bench_decide import requests

from nextbest.bundle import load_bundle
from nextbest.config import default_bundle_path
from nextbest.decide import Decider
from nextbest.decide.values import Facts, IndexArray


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=400)
    parser.add_argument("--batch", type=int, default=5, help="decisions a run (the batcher's)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bundle = load_bundle(default_bundle_path())
    decider = Decider(bundle)
    (model,) = bundle.models
    runs: list[tuple[list[Facts], list[IndexArray]]] = []
    screened = []
    for request in requests(bundle, args.decisions, args.seed):
        screening = decider._screen(request)  # the facts and verdicts, as a decision has them
        if len(screening.screening.eligible):
            screened.append((screening.facts, screening.screening.eligible))
    for start in range(0, len(screened), args.batch):
        batch = screened[start : start + args.batch]
        runs.append(([facts for facts, _ in batch], [eligible for _, eligible in batch]))

    def every(facts: list[Facts], _: list[IndexArray]) -> None:
        model.score_rows(facts, [model.all_rows] * len(facts))

    def eligible(facts: list[Facts], rows: list[IndexArray]) -> None:
        model.score_rows(facts, rows)

    def per_decision(score: Callable[[list[Facts], list[IndexArray]], None]) -> float:
        best = float("inf")
        for _ in range(7):
            started = time.process_time_ns()
            for facts, rows in runs:
                score(facts, rows)
            best = min(best, (time.process_time_ns() - started) / len(screened) / 1000)
        return best

    per_decision(every)  # warm-up: every number of rows gets its buffers
    per_decision(eligible)
    figures: dict[str, list[float]] = {"every offer": [], "eligible offers": []}
    for round_ in range(args.rounds):
        for name, score in (("every offer", every), ("eligible offers", eligible)):
            figures[name].append(per_decision(score))
            print(f"round {round_ + 1} {name:<16} {figures[name][-1]:7.1f} us/decision")
    rows = [sum(len(r) for r in run_rows) for _, run_rows in runs]
    print(
        f"{len(screened)} decisions with an eligible offer, runs of {args.batch}, "
        f"{statistics.mean(rows):.1f} eligible rows a run against "
        f"{statistics.mean(len(f) for f, _ in runs) * len(model.all_rows):.1f}"
    )
    for name, values in figures.items():
        print(f"{name:<16} median {statistics.median(values):7.1f} us/decision (CPU)")


if __name__ == "__main__":
    main()
