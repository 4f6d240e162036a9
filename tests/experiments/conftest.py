"""Bundles with experiments: the demo bundle plus an `experiments.yaml`, and one with a
second model trained by the project's training command to be a challenger."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from experiment_bundles import CHALLENGER_SPEC, WithExperiments, write_experiments
from helpers import DEMO_BUNDLE
from nextbest.training.catalogue import load_catalogue
from nextbest.training.history import write_csv
from nextbest.training.synthetic import generate_demo_history
from nextbest.training.train import train_model


@pytest.fixture
def with_experiments(tmp_path: Path) -> WithExperiments:
    made = iter(range(1_000))

    def make(experiments: list[dict[str, Any]], base: Path = DEMO_BUNDLE) -> Path:
        root = tmp_path / f"bundle-{next(made)}"
        shutil.copytree(base, root, ignore=shutil.ignore_patterns("training"))
        return write_experiments(root, experiments)

    return make


@pytest.fixture(scope="session")
def challenger_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bundle with a second model, `challenger` (logistic regression on fewer
    features), trained with `nextbest train` on the demo's synthetic history; no offer
    uses it yet."""
    root = tmp_path_factory.mktemp("challenger")
    offers, vocabulary = load_catalogue(DEMO_BUNDLE)
    data = root / "history.csv"
    write_csv(generate_demo_history(offers, vocabulary, 6_000, 31), data)
    spec = root / "spec.yaml"
    spec.write_text(yaml.safe_dump(CHALLENGER_SPEC, sort_keys=False), encoding="utf-8")
    bundle = root / "bundle"
    shutil.copytree(DEMO_BUNDLE, bundle, ignore=shutil.ignore_patterns("training"))
    train_model(data, spec, bundle)
    return bundle
