"""The demo bundle: its model is built by `nextbest train` from the synthetic history, and
the shipped model knows what the field knows."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from nextbest.bundle import load_bundle
from nextbest.cli import main
from nextbest.training.catalogue import load_catalogue
from nextbest.training.demo import DEMO_SPEC, build_demo_models
from nextbest.training.export import onnx_feed, single_thread_session
from nextbest.training.features import FeatureSpec
from nextbest.training.manifest import format_float
from nextbest.training.spec import load_spec
from nextbest.training.synthetic import generate_demo_history
from nextbest.training.train import TrainingReport

REPO = Path(__file__).resolve().parents[2]
DEMO_BUNDLE = REPO / "models" / "demo-energy"
SEED = 20261123


def _shipped_entry() -> dict[str, Any]:
    entry: dict[str, Any] = yaml.safe_load((DEMO_BUNDLE / "models.yaml").read_text())["models"][0]
    return entry


FEATURES = tuple(FeatureSpec(i["name"], i["source"], i["kind"]) for i in _shipped_entry()["inputs"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainingReport, Path]:
    bundle = tmp_path_factory.mktemp("demo") / "bundle"
    shutil.copytree(DEMO_BUNDLE, bundle)
    return build_demo_models(bundle, n_rows=3_000), bundle


@pytest.fixture(scope="module")
def session() -> Any:
    """The shipped demo model, as the service runs it."""
    return single_thread_session((DEMO_BUNDLE / _shipped_entry()["file"]).read_bytes())


def _request(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "clv": 1500.0,
        "lifecycle_stage": "growing",
        "tenure_months": 24.0,
        "churn_score": 0.2,
        "channel": "call_center",
        "call_reason": "general_info",
        "wait_time_s": 60.0,
        "offer_id": "gas_supply",
        "category": "cross_sell",
    }
    row.update(overrides)
    return row


def _p_accept(session: Any, *rows: dict[str, Any]) -> np.ndarray[Any, Any]:
    columns = {f.name: np.array([r[f.name] for r in rows]) for f in FEATURES}
    (proba,) = session.run(["probabilities"], onnx_feed(columns, FEATURES))
    return np.asarray(proba)[:, 1]


# --- the demo is built by the path every user takes


def test_the_shipped_model_is_what_the_demo_spec_says() -> None:
    spec = load_spec(DEMO_BUNDLE / DEMO_SPEC)
    entry = _shipped_entry()
    assert spec.features == FEATURES
    training = entry["training"]
    assert (training["family"], training["calibration"]) == (spec.family, spec.calibration)
    assert training["seed"] == spec.seed == SEED
    assert training["rows"] == 60_000
    assert training["max_parity_delta"] <= 1e-5
    metrics = (DEMO_BUNDLE / training["metrics"]).read_text()
    assert '"roc_auc"' in metrics
    graph = onnx.load_from_string((DEMO_BUNDLE / entry["file"]).read_bytes()).graph
    assert [i.name for i in graph.input] == [f.name for f in FEATURES]


def test_train_demo_writes_a_bundle_that_validates(
    trained: tuple[TrainingReport, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    report, bundle = trained
    assert report.rows == 3_000
    assert report.max_parity_delta <= 1e-5
    assert 0.03 <= report.positive_rate <= 0.10
    assert report.onnx_path.stat().st_mode & 0o044 == 0o044  # readable by the service user
    assert load_bundle(bundle).models[0].id == "propensity"
    assert main(["validate", str(bundle)]) == 0
    assert "ok: demo-energy" in capsys.readouterr().out


def test_train_demo_command_keeps_the_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE, bundle)
    history = tmp_path / "history.csv"
    argv = ["train-demo", "--bundle", str(bundle), "--rows", "1500", "--seed", "3"]
    assert main([*argv, "--history", str(history), "--quiet"]) == 0
    assert "ROC AUC" in capsys.readouterr().out
    assert history.read_text().splitlines()[0].split(",")[-1] == "accepted"
    # The same history through `nextbest train` gives the same files.
    again = tmp_path / "again"
    shutil.copytree(DEMO_BUNDLE, again)
    spec = str(bundle / DEMO_SPEC)
    argv = ["train", "--data", str(history), "--spec", spec, "--out", str(again), "--seed", "3"]
    assert main([*argv, "--quiet"]) == 0
    assert (again / "manifest.json").read_bytes() == (bundle / "manifest.json").read_bytes()


# --- what the field knows, as learned by the model


def test_a_loyal_mover_takes_gas_more_than_a_complaining_long_waiter(session: Any) -> None:
    mover, complainer = _p_accept(
        session,
        _request(
            lifecycle_stage="loyal",
            clv=2500.0,
            tenure_months=96.0,
            churn_score=0.1,
            call_reason="move_house",
        ),
        _request(call_reason="complaint", wait_time_s=420.0),
    )
    assert mover > 2 * complainer


def test_retention_goes_to_the_customer_at_risk(session: Any) -> None:
    at_risk, loyal = _p_accept(
        session,
        _request(
            lifecycle_stage="at_risk",
            churn_score=0.85,
            offer_id="loyalty_bonus",
            category="retention",
        ),
        _request(
            lifecycle_stage="loyal",
            churn_score=0.05,
            tenure_months=96.0,
            offer_id="loyalty_bonus",
            category="retention",
        ),
    )
    assert at_risk > 2 * loyal


@pytest.mark.parametrize(
    ("offer_id", "category", "fitting", "other"),
    [
        ("payment_plan", "service", {"call_reason": "payment_issue"}, {}),
        ("outage_status_update", "service", {"call_reason": "outage_report"}, {}),
        ("goodwill_credit", "service", {"call_reason": "complaint"}, {}),
        ("complaint_resolution_callback", "service", {"wait_time_s": 600.0}, {}),
        ("smart_meter", "upsell", {"call_reason": "meter_reading"}, {}),
        (
            "app_onboarding",
            "service",
            {"lifecycle_stage": "new", "tenure_months": 2.0},
            {"lifecycle_stage": "loyal", "tenure_months": 100.0},
        ),
    ],
)
def test_the_fitting_context_raises_propensity(
    session: Any,
    offer_id: str,
    category: str,
    fitting: dict[str, Any],
    other: dict[str, Any],
) -> None:
    offer = {"offer_id": offer_id, "category": category}
    p_fitting, p_other = _p_accept(
        session, _request(**offer, **fitting), _request(**offer, **other)
    )
    assert p_fitting > 1.5 * p_other


# --- the synthetic history and the manifest's numbers


def test_history_is_seeded_and_respects_offer_channels() -> None:
    offers, vocabulary = load_catalogue(DEMO_BUNDLE)
    a = generate_demo_history(offers, vocabulary, 5_000, seed=11)
    b = generate_demo_history(offers, vocabulary, 5_000, seed=11)
    assert a.keys() == b.keys() == {f.name for f in FEATURES} | {"accepted"}
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    channels_of = {o.id: o.channels for o in offers}
    assert all(ch in channels_of[oid] for oid, ch in zip(a["offer_id"], a["channel"], strict=True))
    assert set(a["accepted"].tolist()) == {0, 1}
    for name in ("clv", "tenure_months", "churn_score"):
        assert 0.02 < np.isnan(a[name]).mean() < 0.08, name
    assert np.nanmax(a["wait_time_s"]) > 300
    assert (a["call_reason"] == "").any()
    assert (a["lifecycle_stage"] == "").any()


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_recorded_floats_read_back_as_floats(value: float) -> None:
    text = format_float(value)
    loaded = yaml.safe_load(f"x: {text}")["x"]
    assert isinstance(loaded, float)
    assert math.isclose(loaded, float(f"{value:.6g}"), rel_tol=0.0, abs_tol=0.0)
