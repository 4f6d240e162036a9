"""`nextbest train`: a generated history in, a bundle out that validates and serves, whose
served propensities are scikit-learn's; bad input named; runs reproducible."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from litestar.testing import TestClient

import nextbest
from helpers import decision_request
from nextbest.api.app import create_app
from nextbest.bundle import load_bundle
from nextbest.cli import main
from nextbest.decide import Decider
from nextbest.training import export
from nextbest.training.catalogue import load_catalogue
from nextbest.training.features import FeatureSpec
from nextbest.training.history import write_csv
from nextbest.training.pipeline import feature_matrix
from nextbest.training.synthetic import generate_demo_history
from nextbest.training.train import TrainingReport, train_model

REPO = Path(__file__).resolve().parents[2]
DEMO_BUNDLE = REPO / "models" / "demo-energy"
SEED = 7
REGIONS = ("north", "south", "east", "west", "")
UNSEEN_REASON = "outage_report"  # in the bundle's vocabulary, never in the training rows

SPEC = {
    "model": {"id": "propensity", "family": "gbt", "params": {"n_estimators": 30}},
    "seed": SEED,
    "folds": 3,
    "outcome": {"column": "accepted"},
    "offer": {"column": "offer_id"},
    "features": {
        "numeric": {
            "clv": "customer.clv",
            "tenure_months": "customer.attributes.tenure_months",
            "churn_score": "customer.attributes.churn_score",
            "wait_time_s": "context.wait_time_s",
        },
        "categorical": {
            "lifecycle_stage": "customer.lifecycle_stage",
            "channel": "context.channel",
            "call_reason": "context.call_reason",
            "region": "customer.attributes.region",
            "category": "offer.category",
        },
    },
}


def history(rows: int, seed: int = SEED) -> dict[str, Any]:
    """The demo's synthetic history (numeric and categorical, with missing values) plus a
    free-text `region` column, without any outage call."""
    offers, vocabulary = load_catalogue(DEMO_BUNDLE)
    columns = generate_demo_history(offers, vocabulary, rows, seed)
    rng = np.random.default_rng(seed)
    columns["region"] = np.array(REGIONS, dtype=object)[rng.integers(0, len(REGIONS), rows)]
    keep = columns["call_reason"] != UNSEEN_REASON
    return {k: v[keep] for k, v in columns.items()}


def bundle_copy(target: Path) -> Path:
    shutil.copytree(DEMO_BUNDLE, target, ignore=shutil.ignore_patterns("training"))
    return target


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainingReport, Path, Path]:
    root = tmp_path_factory.mktemp("train")
    data = root / "history.csv"
    write_csv(history(4_000), data)
    spec = write_spec(root / "spec.yaml", SPEC)
    bundle = bundle_copy(root / "bundle")
    return train_model(data, spec, bundle), bundle, data


@pytest.fixture(scope="module")
def served(trained: tuple[TrainingReport, Path, Path]) -> Iterator[TestClient[Any]]:
    _, bundle, _ = trained
    with TestClient(create_app(Decider(load_bundle(bundle)))) as client:
        yield client


# --- a bundle that validates and serves what was trained


def test_the_output_is_a_bundle_that_validates(
    trained: tuple[TrainingReport, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, bundle, _ = trained
    assert main(["validate", str(bundle)]) == 0
    assert "1 models" in capsys.readouterr().out
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert set(manifest["files"]) >= {"models.yaml", "models/propensity.onnx"}


REQUESTS = [
    decision_request(
        channel="call_center",
        call_reason="move_house",
        wait_time_s=95,
        stage="loyal",
        clv=1850.0,
        customer_attributes={"tenure_months": 26, "churn_score": 0.1, "region": "north"},
    ),
    decision_request(channel="web", stage="at_risk", clv=900.0),  # missing values
    decision_request(
        channel="call_center",
        call_reason=UNSEEN_REASON,  # a category training never saw
        stage="new",
        customer_attributes={"region": "atlantis"},  # and another one
    ),
]


def _model_row(request: dict[str, Any], offer: Any) -> dict[str, Any]:
    customer, context = request["customer"], request["context"]
    attributes = customer.get("attributes", {})
    return {
        "clv": customer.get("clv", np.nan),
        "tenure_months": attributes.get("tenure_months", np.nan),
        "churn_score": attributes.get("churn_score", np.nan),
        "wait_time_s": context.get("wait_time_s", np.nan),
        "lifecycle_stage": customer.get("lifecycle_stage", ""),
        "channel": context["channel"],
        "call_reason": context.get("call_reason", ""),
        "region": attributes.get("region", ""),
        "category": offer.category,
        "offer_id": offer.id,
    }


@pytest.mark.parametrize("request_body", REQUESTS, ids=["full", "missing", "unseen"])
def test_served_propensities_equal_sklearn(
    trained: tuple[TrainingReport, Path, Path],
    served: TestClient[Any],
    request_body: dict[str, Any],
) -> None:
    report, bundle, _ = trained
    response = served.post("/v1/decisions", json={**request_body, "explain": True, "limit": 25})
    assert response.status_code == 200, response.text
    candidates = response.json()["explanation"]["candidates"]
    offers = {o.id: o for o in load_bundle(bundle).offers}
    assert len(candidates) == len(offers) == 20

    rows = [_model_row(request_body, offers[c["offer_id"]]) for c in candidates]
    features = _features(bundle)
    columns = {
        f.name: np.array(
            [r[f.name] for r in rows], dtype=np.float32 if f.kind == "numeric" else object
        )
        for f in features
    }
    # report.pipeline is the fitted scikit-learn pipeline the ONNX file was exported from.
    expected = report.pipeline.predict_proba(feature_matrix(columns, features))[:, 1]
    served_p = np.array([c["propensity"] for c in candidates])
    assert np.all((served_p > 0) & (served_p < 1))
    assert np.max(np.abs(served_p - expected)) <= 1e-5


def _features(bundle: Path) -> list[FeatureSpec]:
    entry = yaml.safe_load((bundle / "models.yaml").read_text())["models"][0]
    return [FeatureSpec(i["name"], i["source"], i["kind"]) for i in entry["inputs"]]


# --- what is recorded


def test_metrics_json_holds_the_evaluation(trained: tuple[TrainingReport, Path, Path]) -> None:
    report, bundle, data = trained
    metrics = json.loads((bundle / "models" / "propensity.metrics.json").read_text())
    holdout = metrics["out_of_fold"]
    for key in ("roc_auc", "log_loss", "brier", "positive_rate", "mean_propensity"):
        assert isinstance(holdout[key], float), key
    assert holdout["roc_auc"] == pytest.approx(report.holdout.roc_auc, rel=1e-5)
    assert holdout["roc_auc"] > 0.6
    assert [b["decile"] for b in holdout["calibration"]] == list(range(1, 11))
    assert sum(b["rows"] for b in holdout["calibration"]) == holdout["rows"]
    assert all({"mean_propensity", "observed_rate"} <= set(b) for b in holdout["calibration"])
    assert [t["share"] for t in holdout["top"]] == [0.1, 0.2]
    assert all(t["lift"] > 1.0 and 0 < t["precision"] <= 1 for t in holdout["top"])
    assert metrics["split"]["folds"] == 3
    assert metrics["split"]["selection_rows"] == metrics["split"]["refit_rows"] == report.rows
    assert holdout["rows"] == report.rows  # every row scored by a model that did not see it
    chosen = metrics["selection"]["chosen"]
    assert chosen in metrics["selection"]["candidates"]
    assert chosen["family"] == metrics["family"] == "gbt"  # a fixed family trains only it
    assert {c["family"] for c in metrics["selection"]["candidates"]} == {"gbt"}
    assert chosen["roc_auc"]["mean"] == pytest.approx(holdout["roc_auc"], abs=0.02)
    assert metrics["parity"]["max_abs_delta"] <= metrics["parity"]["tolerance"] == 1e-5
    assert metrics["data"]["file"] == data.name
    assert metrics["data"]["sha256"].startswith("sha256:")
    assert metrics["calibration"] == "sigmoid"

    entry = yaml.safe_load((bundle / "models.yaml").read_text())["models"][0]
    assert entry["training"]["cv_auc"] == pytest.approx(chosen["roc_auc"]["mean"], rel=1e-5)
    assert entry["training"]["folds"] == 3
    assert entry["training"]["data_sha256"] == metrics["data"]["sha256"]
    assert [i["name"] for i in entry["inputs"]][-1] == "offer_id"
    assert {i["name"]: i["source"] for i in entry["inputs"]}["offer_id"] == "offer.id"


def test_report_and_warnings(trained: tuple[TrainingReport, Path, Path]) -> None:
    report, _, _ = trained
    text = "\n".join(report.lines())
    for word in ("ROC AUC", "log loss", "Brier", "top 10%", "top 20%", "calibration", "parity"):
        assert word in text
    # Every offer is in the history and in offers.yaml: nothing to warn about but rarity.
    assert not [w for w in report.warnings if "not in offers.yaml" in w]


# --- reproducibility


def test_same_seed_gives_identical_checksums(tmp_path: Path) -> None:
    data = tmp_path / "history.csv"
    write_csv(history(1_500, seed=3), data)
    spec = write_spec(
        tmp_path / "spec.yaml", {**SPEC, "model": {"family": "gbt", "params": {"n_estimators": 8}}}
    )
    runs = []
    for name in ("a", "b"):
        bundle = bundle_copy(tmp_path / name)
        train_model(data, spec, bundle)
        runs.append(bundle)
    # A third run in a fresh process with another string hash seed, through the CLI.
    cli_bundle = bundle_copy(tmp_path / "cli")
    src = str(Path(nextbest.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONHASHSEED": "4242",
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [
            *(sys.executable, "-m", "nextbest.cli", "train", "--quiet"),
            *("--data", str(data), "--spec", str(spec), "--out", str(cli_bundle)),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ROC AUC" in done.stdout
    runs.append(cli_bundle)
    manifests = [(b / "manifest.json").read_bytes() for b in runs]
    assert manifests[0] == manifests[1] == manifests[2]
    metrics = [(b / "models/propensity.metrics.json").read_bytes() for b in runs]
    assert metrics[0] == metrics[1] == metrics[2]

    other = bundle_copy(tmp_path / "other")
    train_model(data, spec, other, seed=SEED + 1)
    assert (other / "models/propensity.onnx").read_bytes() != (
        runs[0] / "models/propensity.onnx"
    ).read_bytes()


# --- other shapes of input: Parquet, TOML, yes/no outcomes, one offer per model


def test_parquet_toml_yes_no_and_a_single_offer_model(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rng = np.random.default_rng(5)
    n = 1_200
    tenure = rng.integers(0, 120, n).astype(float)
    tenure[rng.random(n) < 0.1] = np.nan
    region = rng.choice(["north", "south", None], n)
    p = 1 / (1 + np.exp(-(-2.5 + 0.02 * np.nan_to_num(tenure) + (region == "north"))))
    outcome = np.where(rng.random(n) < p, "Yes", "No")
    table = pa.table(
        {
            "Tenure (months)": pa.array(tenure, mask=np.isnan(tenure)),
            "region": pa.array(region.tolist(), type=pa.string()),
            "took_it": pa.array(outcome.tolist()),
        }
    )
    data = tmp_path / "history.parquet"
    pq.write_table(table, data)
    spec = tmp_path / "spec.toml"
    spec.write_text(
        """
seed = 11
[model]
id = "green_tariff_model"
family = "logreg"
[outcome]
column = "took_it"
positive = ["yes"]
negative = ["no"]
[offer]
id = "green_tariff_upgrade"
[features.numeric]
"Tenure (months)" = "customer.attributes.tenure_months"
[features.categorical]
region = "customer.attributes.region"
""",
        encoding="utf-8",
    )
    bundle = bundle_copy(tmp_path / "bundle")
    report = train_model(data, spec, bundle)
    assert report.rows == n
    assert any("nothing uses it" in w for w in report.warnings)
    loaded = load_bundle(bundle)
    assert {m.id for m in loaded.models} == {"propensity", "green_tariff_model"}
    entry = yaml.safe_load((bundle / "models.yaml").read_text())["models"][1]
    assert entry["inputs"][0] == {
        "name": "Tenure__months_",
        "source": "customer.attributes.tenure_months",
        "kind": "numeric",
    }
    assert report.max_parity_delta <= 1e-5


# --- bad input: a named error, and nothing written


def _run(capsys: pytest.CaptureFixture[str], data: Path, spec: Path, bundle: Path) -> str:
    code = main(["train", "--data", str(data), "--spec", str(spec), "--out", str(bundle)])
    err = capsys.readouterr().err
    assert code == 2, err
    return err.strip()


def _bad_history(path: Path, change: str) -> None:
    columns = history(600)
    if change == "missing_column":
        del columns["tenure_months"]
    elif change == "not_binary":
        columns["accepted"] = columns["accepted"].astype(object)
        columns["accepted"][5] = "maybe"
    elif change == "no_positives":
        columns["accepted"] = np.zeros_like(columns["accepted"])
    elif change == "not_a_number":
        columns["clv"] = columns["clv"].astype(object)
        columns["clv"][3] = "lots"
    write_csv(columns, path)


BAD_INPUT = [
    ("missing_column", {}, ["column 'tenure_months'", "features.numeric.tenure_months"]),
    ("not_binary", {}, ["column 'accepted'", "not binary", "'maybe'"]),
    ("no_positives", {}, ["column 'accepted'", "no positive outcomes"]),
    ("not_a_number", {}, ["column 'clv'", "data row 4", "'lots'"]),
    ("ok", {"features": {"numeric": {"clv": None}}}, ["features.numeric.clv", "no source"]),
    (
        "ok",
        {"features": {"numeric": {"clv": "customer.cvl"}}},
        ["features.numeric.clv", "unknown source", "did you mean 'customer.clv'"],
    ),
    (
        "ok",
        {"features": {"numeric": {"reason_code": "context.call_reason"}}},
        ["features.numeric.reason_code", "string field"],
    ),
    ("ok", {"offer": None}, ["spec.yaml: offer:"]),
    ("ok", {"outcome": {"column": "accepted", "positive": [1], "negative": [1]}}, ["outcome:"]),
    ("ok", {"model": {"family": "forest"}}, ["model.family"]),
    ("ok", {"model": {"params": {"n_estimators": 5}}}, ["model.params", "one family"]),
    ("empty", {}, ["history.csv: the file is empty"]),
    ("header_only", {}, ["history.csv: the file has no data rows"]),
]


@pytest.mark.parametrize(
    ("data_change", "spec_change", "words"),
    BAD_INPUT,
    ids=[f"{d}-{next(iter(s), '')}" for d, s, _ in BAD_INPUT],
)
def test_bad_input_gets_a_named_error_and_writes_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    data_change: str,
    spec_change: dict[str, Any],
    words: list[str],
) -> None:
    data = tmp_path / "history.csv"
    if data_change == "empty":
        data.write_bytes(b"")
    elif data_change == "header_only":
        data.write_text(",".join(history(10)) + "\n")
    else:
        _bad_history(data, data_change)
    spec_dict = json.loads(json.dumps(SPEC))
    for key, value in spec_change.items():
        if key == "features":
            spec_dict["features"]["numeric"].update(value["numeric"])
        elif value is None:
            del spec_dict[key]
        else:
            spec_dict[key] = value
    spec = write_spec(tmp_path / "spec.yaml", spec_dict)
    bundle = bundle_copy(tmp_path / "bundle")
    before = files_of(bundle)
    message = _run(capsys, data, spec, bundle)
    for word in words:
        assert word in message, message
    assert files_of(bundle) == before


def test_out_must_be_a_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "history.csv"
    write_csv(history(300), data)
    spec = write_spec(tmp_path / "spec.yaml", SPEC)
    message = _run(capsys, data, spec, tmp_path)
    assert "not a bundle" in message


def test_parity_failure_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "history.csv"
    write_csv(history(800), data)
    spec = write_spec(
        tmp_path / "spec.yaml", {**SPEC, "model": {"family": "gbt", "params": {"n_estimators": 5}}}
    )
    bundle = bundle_copy(tmp_path / "bundle")
    before = files_of(bundle)
    monkeypatch.setattr(export, "PARITY_TOLERANCE", -1.0)
    message = _run(capsys, data, spec, bundle)
    assert "parity" in message
    assert "nothing was written" in message
    assert files_of(bundle) == before
