"""`family: auto`: cross-validation picks the family the truth calls for, the winner is
refitted on every row, and every family exports to ONNX exactly and reproducibly."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from nextbest.training.history import write_csv
from nextbest.training.pipeline import feature_matrix
from nextbest.training.progress import Progress
from nextbest.training.train import TrainingReport, train_model

REPO = Path(__file__).resolve().parents[2]
DEMO_BUNDLE = REPO / "models" / "demo-energy"
NUMERIC = {
    "clv": "customer.clv",
    "tenure_months": "customer.attributes.tenure_months",
    "churn_score": "customer.attributes.churn_score",
    "wait_time_s": "context.wait_time_s",
}
CATEGORICAL = {"region": "customer.attributes.region"}
REGIONS = np.array(["north", "south", "east", "west"], dtype=object)


def _spec(path: Path, **model: Any) -> Path:
    spec = {
        "model": {"id": "propensity", **model},
        "seed": 5,
        "folds": 3,
        "outcome": {"column": "accepted"},
        "offer": {"id": "gas_supply"},
        "features": {"numeric": NUMERIC, "categorical": CATEGORICAL},
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _history(rows: int, *, interactions: bool, seed: int) -> dict[str, np.ndarray[Any, Any]]:
    """Standard-normal numbers (some missing) and a region; the log-odds are linear in
    them, or (``interactions``) a product and a threshold that no linear model can draw."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    region = rng.integers(0, len(REGIONS), rows)
    if interactions:
        logit = 2.5 * np.sign(x[:, 0] * x[:, 1]) + 2.0 * (np.abs(x[:, 2]) > 1.0) - 1.5
    else:
        logit = 1.2 * x[:, 0] - 0.9 * x[:, 1] + 0.6 * x[:, 2] + 0.4 * (region == 1) - 1.0
    accepted = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    x[rng.random(x.shape) < 0.03] = np.nan
    columns: dict[str, np.ndarray[Any, Any]] = {
        name: x[:, j].astype(np.float32) for j, name in enumerate(NUMERIC)
    }
    columns["region"] = REGIONS[region]
    columns["accepted"] = accepted
    return columns


def _train(
    tmp: Path, *, interactions: bool, rows: int = 3_000, name: str = "bundle", **model: Any
) -> tuple[TrainingReport, Path]:
    data = tmp / f"history-{interactions}.csv"
    if not data.exists():
        write_csv(_history(rows, interactions=interactions, seed=11), data)
    bundle = tmp / name
    shutil.copytree(DEMO_BUNDLE, bundle, ignore=shutil.ignore_patterns("training"))
    return train_model(data, _spec(tmp / "spec.yaml", **model), bundle), bundle


def _chosen(bundle: Path) -> dict[str, Any]:
    metrics = json.loads((bundle / "models" / "propensity.metrics.json").read_text())
    chosen: dict[str, Any] = metrics["selection"]["chosen"]
    return chosen


@pytest.fixture(scope="module")
def linear(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainingReport, Path]:
    return _train(tmp_path_factory.mktemp("linear"), interactions=False)


def test_when_the_truth_is_linear_logistic_regression_wins(
    linear: tuple[TrainingReport, Path],
) -> None:
    report, bundle = linear
    assert report.family == "logreg"
    metrics = json.loads((bundle / "models" / "propensity.metrics.json").read_text())
    families = {c["family"] for c in metrics["selection"]["candidates"]}
    assert families == {"logreg", "gbt", "lgbm"}
    best = {
        f: min(
            c["log_loss"]["mean"] for c in metrics["selection"]["candidates"] if c["family"] == f
        )
        for f in families
    }
    assert best["logreg"] < min(best["gbt"], best["lgbm"])
    assert all(
        c["log_loss"]["std"] > 0 and c["roc_auc"]["std"] > 0
        for c in metrics["selection"]["candidates"]
    )


def test_when_interactions_matter_trees_win(tmp_path: Path) -> None:
    report, bundle = _train(tmp_path, interactions=True)
    assert report.family in ("gbt", "lgbm")
    assert _chosen(bundle)["roc_auc"]["mean"] > 0.8
    text = "\n".join(report.lines())
    assert "cross-validated" in text
    assert "out-of-fold rows" in text


def test_the_winner_is_refitted_on_every_row(linear: tuple[TrainingReport, Path]) -> None:
    report, bundle = linear
    data = bundle.parent / "history-False.csv"
    encode = report.pipeline.named_steps["encode"]
    (calibrated,) = report.pipeline.named_steps["classify"].calibrated_classifiers_
    shipped = calibrated.estimator
    assert report.train_rows == report.rows == 3_000
    # The same family and parameters fitted on all 3,000 rows give the shipped coefficients.
    columns = dict(_history(3_000, interactions=False, seed=11).items())
    x = encode.transform(feature_matrix(columns, _features(bundle)))
    again = LogisticRegression(max_iter=2000, random_state=5, C=_chosen(bundle)["params"]["C"])
    again.fit(x, columns["accepted"])
    np.testing.assert_allclose(shipped.coef_, again.coef_, rtol=1e-6)
    assert data.is_file()


def _features(bundle: Path) -> list[Any]:
    from nextbest.training.features import FeatureSpec

    entry = yaml.safe_load((bundle / "models.yaml").read_text())["models"][0]
    return [FeatureSpec(i["name"], i["source"], i["kind"]) for i in entry["inputs"]]


@pytest.mark.parametrize(
    ("family", "params"),
    [("logreg", {}), ("gbt", {"n_estimators": 20}), ("lgbm", {"n_estimators": 20})],
)
def test_every_family_passes_parity_and_reproduces_byte_identical_files(
    tmp_path: Path, family: str, params: dict[str, Any]
) -> None:
    first, a = _train(tmp_path, interactions=True, rows=1_500, family=family, params=params)
    second, b = _train(
        tmp_path, interactions=True, rows=1_500, name="again", family=family, params=params
    )
    assert first.family == second.family == family
    assert first.max_parity_delta <= 1e-5
    for name in ("models/propensity.onnx", "models/propensity.metrics.json", "models.yaml"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()


def test_progress_shows_a_bar_per_counted_phase() -> None:
    stream = io.StringIO()
    with Progress(stream).bar("cross-validating", 4) as advance:
        for _ in range(4):
            advance()
    started, finished = stream.getvalue().splitlines()
    assert started == "cross-validating ..."
    assert finished.startswith("cross-validating: [####################] 4/4 done in ")
