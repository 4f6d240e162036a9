"""Bundles with experiments for the tests: an `experiments.yaml` written into a copy of a
bundle, and the spec of a second model trained to be a challenger."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from nextbest.bundle import seal_bundle

__all__ = ["CHALLENGER", "CHALLENGER_SPEC", "WithExperiments", "write_experiments"]

WithExperiments = Callable[..., Path]
"""`with_experiments(experiments, base=DEMO_BUNDLE)`: a sealed copy of `base` whose
`experiments.yaml` lists `experiments`."""

CHALLENGER = "challenger"
CHALLENGER_SPEC: dict[str, Any] = {
    "model": {"id": CHALLENGER, "family": "logreg"},
    "seed": 31,
    "folds": 3,
    "outcome": {"column": "accepted"},
    "offer": {"column": "offer_id"},
    "features": {
        "numeric": {"clv": "customer.clv", "wait_time_s": "context.wait_time_s"},
        "categorical": {
            "lifecycle_stage": "customer.lifecycle_stage",
            "call_reason": "context.call_reason",
            "offer_id": "offer.id",
        },
    },
}


def write_experiments(root: Path, experiments: list[dict[str, Any]]) -> Path:
    (root / "experiments.yaml").write_text(
        yaml.safe_dump({"experiments": experiments}, sort_keys=False), encoding="utf-8"
    )
    seal_bundle(root)
    return root
