"""The learning loop, end to end, on a simulated population whose truth is known.

1. A bundle whose model knows little: the demo bundle retrained on a small random history.
2. The service serves a simulated population (the demo's synthetic generating process),
   which answers each offer it is shown as its true acceptance says (feedback).
3. The interaction history is exported (`nextbest history export --spec-out`) and
   `nextbest train` retrains the model on it; the service hot-reloads the bundle.
4. Each model's ROC AUC against the population's true acceptance, on fresh random
   (customer, offer) pairs, before and after.

    .venv/bin/python loadtests/learning_loop.py [--decisions 6000] [--seed 11]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from litestar.testing import TestClient
from population import requests, true_acceptance
from sklearn.metrics import roc_auc_score

from nextbest.api.app import create_app
from nextbest.bundle import Bundle, load_bundle
from nextbest.cli import main as nextbest
from nextbest.config import Settings, default_bundle_path
from nextbest.decide import Decider, DecisionRequest
from nextbest.history.reader import HistoryReader
from nextbest.history.records import DecisionRecord
from nextbest.logging import configure_logging
from nextbest.training.catalogue import load_catalogue
from nextbest.training.synthetic import History, generate_demo_history

ADMIN_TOKEN = "learning-loop-admin-token"


@dataclass(frozen=True)
class LoopResult:
    decisions: int
    rows: int
    accepted: int
    auc_before: float
    auc_after: float
    reloaded: bool

    def lines(self) -> list[str]:
        return [
            f"served {self.decisions} decisions; history export: {self.rows} rows, "
            f"{self.accepted} accepted",
            f"ROC AUC against the true acceptance, before: {self.auc_before:.4f}, "
            f"after retraining on the history: {self.auc_after:.4f}"
            + ("" if self.reloaded else " (the reload FAILED)"),
        ]


def expected_auc(bundle: Bundle, n: int, seed: int) -> float:
    """ROC AUC of the bundle's propensities against the true acceptance of fresh random
    (customer, offer) pairs, each pair counted as accepted with its true probability."""
    offers, vocabulary = load_catalogue(bundle.path)
    population = generate_demo_history(offers, vocabulary, n, seed)
    decider = Decider(bundle)
    index = {o.id: o.index for o in bundle.offers}
    scores = np.empty(n)
    for i, request in requests(population):
        # explained: every offer scored by the model, eligible for this request or not
        ranking = decider.rank(msgspec.structs.replace(request, explain=True))
        scores[i] = ranking.propensity[index[str(population["offer_id"][i])]]
    truth = true_acceptance(
        population, np.arange(n), [str(o) for o in population["offer_id"]], bundle
    )
    labels = np.r_[np.ones(n), np.zeros(n)]
    return float(
        roc_auc_score(labels, np.r_[scores, scores], sample_weight=np.r_[truth, 1 - truth])
    )


def _serve(client: TestClient[Any], bundle: Bundle, population: History, seed: int) -> int:
    rng = np.random.default_rng(seed)
    served = 0
    for i, request in requests(population):
        body = client.post("/v1/decisions", content=_encode(request)).json()
        served += 1
        shown = [o["offer_id"] for o in body["offers"]]
        if not shown:
            continue
        truth = true_acceptance(population, np.full(len(shown), i), shown, bundle)
        for offer, p in zip(shown, truth, strict=True):
            outcome = "accepted" if rng.random() < p else "declined"
            client.post(
                "/v1/feedback",
                json={
                    "decision_id": body["decision_id"],
                    "customer_id": request.customer.id,
                    "offer_id": offer,
                    "channel": request.context.channel,
                    "outcome": outcome,
                },
            )
    return served


def _encode(request: DecisionRequest) -> bytes:
    return msgspec.json.encode(request)


def _wait_for_history(directory: Path, decisions: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reader = HistoryReader(str(directory))
        if sum(isinstance(r, DecisionRecord) for r in reader.records()) >= decisions:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the history did not reach {decisions} decisions in {timeout_s} s")


def run_loop(
    workdir: Path, *, decisions: int, seed: int, start_rows: int, eval_rows: int, family: str | None
) -> LoopResult:
    bundle_dir = workdir / "bundle"
    shutil.copytree(default_bundle_path(), bundle_dir)
    quiet = ["--quiet"]
    if (
        nextbest(
            [
                "train-demo",
                "--bundle",
                str(bundle_dir),
                "--rows",
                str(start_rows),
                "--seed",
                str(seed),
                *quiet,
            ]
        )
        != 0
    ):
        raise RuntimeError("training the starting model failed")
    bundle = load_bundle(bundle_dir)
    auc_before = expected_auc(bundle, eval_rows, seed + 1)
    offers, vocabulary = load_catalogue(bundle_dir)
    population = generate_demo_history(offers, vocabulary, decisions, seed + 2)
    history = workdir / "history"
    settings = Settings(bundle=bundle_dir, history_dir=history, admin_token=ADMIN_TOKEN)
    with TestClient(create_app(Decider(bundle), settings)) as client:
        served = _serve(client, bundle, population, seed + 3)
        _wait_for_history(history, served)
        table, spec = workdir / "table.csv", workdir / "spec.yaml"
        export = [
            "history",
            "export",
            "--source",
            str(history),
            "--out",
            str(table),
            "--spec-out",
            str(spec),
            *quiet,
        ]
        if nextbest(export) != 0:
            raise RuntimeError("history export failed")
        train = [
            "train",
            "--data",
            str(table),
            "--spec",
            str(spec),
            "--out",
            str(bundle_dir),
            *quiet,
        ]
        if family:
            train += ["--family", family]
        if nextbest(train) != 0:
            raise RuntimeError("retraining on the history failed")
        reload = client.post(
            "/admin/bundle/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        reloaded = reload.status_code == 200
        serving_checksums = client.get("/v1/bundle").json()["checksums"]
    retrained = load_bundle(bundle_dir)
    reloaded = reloaded and dict(retrained.checksums) == serving_checksums
    rows = table.read_text().count("\n") - 1
    accepted = sum(line.endswith(",1") for line in table.read_text().splitlines())
    return LoopResult(
        served, rows, accepted, auc_before, expected_auc(retrained, eval_rows, seed + 1), reloaded
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--decisions", type=int, default=6000, help="simulated decisions served")
    parser.add_argument(
        "--start-rows", type=int, default=1500, help="random rows the starting model learns from"
    )
    parser.add_argument(
        "--eval-rows", type=int, default=20_000, help="fresh pairs the AUC is measured on"
    )
    parser.add_argument("--family", help="model family for the retraining (default: the spec's)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    configure_logging("console", "warning")
    with tempfile.TemporaryDirectory(prefix="nextbest-loop-") as scratch:
        result = run_loop(
            Path(scratch),
            decisions=args.decisions,
            seed=args.seed,
            start_rows=args.start_rows,
            eval_rows=args.eval_rows,
            family=args.family,
        )
    print("\n".join(result.lines()))
    return 0 if result.reloaded and result.auc_after > result.auc_before else 1


if __name__ == "__main__":
    sys.exit(main())
