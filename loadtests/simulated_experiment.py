"""Histories of a simulated population whose truth is known, for `nextbest report` and
`nextbest evaluate`.

The population is the demo's synthetic generating process (`population.py`). Each
decision is made by an arm's policy, written as a DecisionRecord, and answered as the
population's true acceptance says (a ResponseRecord, accepted or declined): no service
runs, the records are those the service would write.

Policies: `ranked` (the arm's bundle, its top offers, no contact pressure; logged
propensity 1), `uniform` (a uniformly random order of the offers the bundle finds
eligible; logged propensity 1 / eligible offers at every rank), `none` (no offer).

    .venv/bin/python loadtests/simulated_experiment.py [--decisions 20000] [--seed 7]

prints the report of a three-arm experiment (control: no offer, 10 %; champion: the demo
bundle with a constant propensity instead of its model, 45 %; challenger: the demo bundle,
45 %) against the champion, with each arm's true value; then the off-policy evaluation of
the challenger and the champion on a uniformly random log of other customers, each beside
its true value on them. The report's page is written to --html.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from numpy.typing import NDArray
from population import requests, true_acceptance

from nextbest.bundle import Bundle, load_bundle, seal_bundle
from nextbest.config import default_bundle_path
from nextbest.decide import Decider
from nextbest.history.reader import record_time
from nextbest.history.records import (
    DecisionRecord,
    OfferShown,
    Record,
    ResponseRecord,
    encode_record,
)
from nextbest.training.catalogue import load_catalogue
from nextbest.training.synthetic import History, generate_demo_history

__all__ = [
    "Arm",
    "Served",
    "constant_propensity_bundle",
    "demo_population",
    "history_records",
    "serve",
    "simulation_rng",
    "true_value",
    "write_history",
]

Policy = Literal["ranked", "uniform", "none"]
T0 = datetime(2026, 11, 1, tzinfo=UTC)
SLOTS = 3


@dataclass(frozen=True)
class Arm:
    name: str
    share: float
    policy: Policy
    bundle: Bundle | None = None


@dataclass(frozen=True)
class Served:
    """One decision as a policy made it: the offers shown and their true acceptance."""

    row: int
    arm: str | None
    offers: list[OfferShown]
    truth: NDArray[np.float64]


def simulation_rng(seed: int) -> np.random.Generator:
    """The random source of a simulation's assignments, choices and responses: a stream of
    its own, independent of `demo_population(n, seed)`'s for the same seed (the same
    stream would tie the arms to the customers' lifecycle stages, its first draw)."""
    return np.random.default_rng([seed, 1])


def demo_population(decisions: int, seed: int) -> History:
    offers, vocabulary = load_catalogue(default_bundle_path())
    return generate_demo_history(offers, vocabulary, decisions, seed)


def constant_propensity_bundle(target: Path, propensity: float = 0.05) -> Path:
    """The demo bundle with one constant propensity for every offer instead of its model:
    a champion that ranks by value, lever and context weight alone."""
    shutil.copytree(default_bundle_path(), target)
    offers_file = target / "offers.yaml"
    catalogue = yaml.safe_load(offers_file.read_text())
    for offer in catalogue["offers"]:
        if offer.pop("model", None) is not None:
            offer["propensity"] = propensity
    offers_file.write_text(yaml.safe_dump(catalogue, sort_keys=False))
    (target / "models.yaml").write_text("models: []\n")
    seal_bundle(target)
    return target


def serve(
    population: History,
    rows: Sequence[int],
    arm: Arm,
    rng: np.random.Generator,
    slots: int = SLOTS,
) -> list[Served]:
    """The decisions `arm` makes for population `rows`."""
    wanted = set(rows)
    served = []
    decider = Decider(arm.bundle) if arm.bundle is not None else None
    for i, request in requests(population, limit=slots):
        if i not in wanted:
            continue
        if decider is None or arm.policy == "none":
            served.append(Served(i, arm.name, [], np.zeros(0)))
            continue
        ranking = decider.rank(request)
        order = list(ranking.order)
        if arm.policy == "uniform":
            logged = 1.0 / len(order) if order else 1.0
            order = [order[k] for k in rng.permutation(len(order))]
        else:
            logged = 1.0
        index = {o.id: o for o in decider.bundle.offers}
        shown = [
            OfferShown(
                offer_id=offer,
                rank=k + 1,
                category=index[offer].category,
                propensity=float(ranking.propensity[index[offer].index]),
                priority=float(ranking.priority[index[offer].index]),
                value=float(ranking.value[index[offer].index]),
                logged_propensity=logged,
            )
            for k, offer in enumerate(order[:slots])
        ]
        truth = true_acceptance(
            population, np.full(len(shown), i), [o.offer_id for o in shown], decider.bundle
        )
        served.append(Served(i, arm.name, shown, truth))
    return served


def history_records(
    population: History,
    served: Sequence[Served],
    rng: np.random.Generator,
    experiment: str | None = "exp",
) -> list[Record]:
    """The decision records and their responses, each offer accepted as its truth says."""
    records: list[Record] = []
    for decision in sorted(served, key=lambda s: s.row):
        at = T0 + timedelta(seconds=decision.row)
        decision_id = f"sim-{decision.row}"
        customer = f"SIM-{decision.row}"
        channel = str(population["channel"][decision.row])
        records.append(
            DecisionRecord(
                decision_id=decision_id,
                at=at,
                bundle_name="demo-energy",
                bundle_version="sim",
                customer_id=customer,
                channel=channel,
                experiment=experiment if decision.arm is not None else None,
                arm=decision.arm if experiment is not None else None,
                fields=_fields(population, decision.row),
                offers=decision.offers,
            )
        )
        accepted = rng.random(len(decision.offers)) < decision.truth
        for offer, yes in zip(decision.offers, accepted, strict=True):
            answered = at + timedelta(milliseconds=500)
            records.append(
                ResponseRecord(
                    decision_id=decision_id,
                    offer_id=offer.offer_id,
                    customer_id=customer,
                    channel=channel,
                    outcome="accepted" if yes else "declined",
                    occurred_at=answered,
                    received_at=answered,
                    key=f"{decision_id}:{offer.offer_id}",
                )
            )
    return records


def _fields(population: History, row: int) -> dict[str, str | float]:
    fields: dict[str, str | float] = {}
    for path, column in (
        ("customer.clv", "clv"),
        ("customer.lifecycle_stage", "lifecycle_stage"),
        ("customer.attributes.tenure_months", "tenure_months"),
        ("customer.attributes.churn_score", "churn_score"),
        ("context.channel", "channel"),
        ("context.call_reason", "call_reason"),
        ("context.wait_time_s", "wait_time_s"),
    ):
        value = population[column][row]
        if isinstance(value, float | np.floating):
            if not np.isnan(value):
                fields[path] = float(value)
        elif value:
            fields[path] = str(value)
    return fields


def write_history(directory: Path, records: Sequence[Record]) -> Path:
    """`records` (in time order) as one segment of a history directory, named as the
    file sink names its segments."""
    directory.mkdir(parents=True, exist_ok=True)
    started = (record_time(records[0]) if records else T0).strftime("%Y%m%dT%H%M%S%f")
    segment = directory / f"history-{started}-simulated-0-0001.jsonl"
    segment.write_bytes(b"".join(encode_record(r) + b"\n" for r in records))
    return directory


def assign(arms: Sequence[Arm], decisions: int, rng: np.random.Generator) -> dict[str, list[int]]:
    """Population rows by arm, drawn with the arms' shares."""
    drawn = rng.choice(len(arms), size=decisions, p=[a.share for a in arms])
    return {arm.name: np.flatnonzero(drawn == k).tolist() for k, arm in enumerate(arms)}


def true_value(population: History, bundle: Bundle, slots: int = SLOTS) -> tuple[float, float]:
    """The ranked policy of `bundle` on every population row: its true accepted offers and
    accepted value per decision (no contact pressure)."""
    served = serve(
        population,
        range(len(population["channel"])),
        Arm("truth", 1.0, "ranked", bundle),
        np.random.default_rng(0),
        slots,
    )
    acceptance = sum(float(s.truth.sum()) for s in served) / len(served)
    value = sum(float(np.dot(s.truth, [o.value for o in s.offers])) for s in served) / len(served)
    return acceptance, value


def _true_arm_values(served: Sequence[Served]) -> str:
    arms = sorted({s.arm for s in served if s.arm is not None})
    parts = []
    for arm in arms:
        mine = [s for s in served if s.arm == arm]
        acceptance = sum(float(s.truth.sum()) for s in mine) / len(mine)
        value = sum(float(np.dot(s.truth, [o.value for o in s.offers])) for s in mine) / len(mine)
        parts.append(f"{arm} {acceptance:.4f} / {value:.2f}")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    from nextbest.cli import main as nextbest
    from nextbest.logging import configure_logging

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--decisions", type=int, default=20_000, help="per history")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--html", type=Path, default=Path("report.html"))
    args = parser.parse_args(argv)
    configure_logging("console", "warning")
    rng = simulation_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="nextbest-sim-") as scratch:
        work = Path(scratch)
        demo = load_bundle(default_bundle_path())
        champion_dir = constant_propensity_bundle(work / "champion")
        champion = load_bundle(champion_dir)
        arms = [
            Arm("control", 0.1, "none"),
            Arm("champion", 0.45, "ranked", champion),
            Arm("challenger", 0.45, "ranked", demo),
        ]
        population = demo_population(args.decisions, args.seed)
        rows = assign(arms, args.decisions, rng)
        served = [s for arm in arms for s in serve(population, rows[arm.name], arm, rng)]
        experiment = write_history(work / "experiment", history_records(population, served, rng))
        print(f"$ nextbest report --history EXPERIMENT --control champion --html {args.html}")
        nextbest(
            [
                "report",
                "--history",
                str(experiment),
                "--control",
                "champion",
                "--html",
                str(args.html),
            ]
        )
        print(f"true acceptance / value per decision: {_true_arm_values(served)}")

        logged = demo_population(args.decisions, args.seed + 1)
        uniform = Arm("uniform", 1.0, "uniform", demo)
        random_log = write_history(
            work / "uniform",
            history_records(
                logged, serve(logged, range(args.decisions), uniform, rng), rng, experiment=None
            ),
        )
        for name, bundle in (("CHALLENGER", demo), ("CHAMPION", champion)):
            print(f"\n$ nextbest evaluate --history UNIFORM_LOG --bundle {name}")
            nextbest(["evaluate", "--history", str(random_log), "--bundle", str(bundle.path)])
            acceptance, value = true_value(logged, bundle)
            print(
                f"true value on these customers: acceptance {acceptance:.4f}, "
                f"value {value:.4f} per decision"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
