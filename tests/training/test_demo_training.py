"""The demo training pipeline: ONNX contract, parity, reproducibility, field knowledge."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sklearn.model_selection import train_test_split

import nextbest
from nextbest.training import export
from nextbest.training.catalogue import load_catalogue
from nextbest.training.demo import DemoTrainingReport, build_demo_models, main
from nextbest.training.export import (
    ParityError,
    check_parity,
    export_onnx,
    onnx_feed,
    single_thread_session,
)
from nextbest.training.features import DEMO_FEATURES
from nextbest.training.manifest import format_float
from nextbest.training.pipeline import build_pipeline, feature_matrix
from nextbest.training.synthetic import generate_demo_history

REPO = Path(__file__).resolve().parents[2]
DEMO_BUNDLE = REPO / "models" / "demo-energy"
SEED = 20261123


def _bundle_copy(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in ("bundle.yaml", "offers.yaml"):
        shutil.copyfile(DEMO_BUNDLE / name, target / name)
    return target


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoTrainingReport, Path]:
    bundle = _bundle_copy(tmp_path_factory.mktemp("trained"))
    return build_demo_models(bundle, seed=SEED, n_rows=30_000), bundle


@pytest.fixture(scope="module")
def session(trained: tuple[DemoTrainingReport, Path]) -> Any:
    report, _ = trained
    return single_thread_session(report.onnx_path.read_bytes())


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
    columns = {f.name: np.array([r[f.name] for r in rows]) for f in DEMO_FEATURES}
    (proba,) = session.run(["probabilities"], onnx_feed(columns, DEMO_FEATURES))
    return np.asarray(proba)[:, 1]


# --- the ONNX contract and the manifest


def test_onnx_inputs_follow_the_manifest_in_order(
    trained: tuple[DemoTrainingReport, Path],
) -> None:
    report, bundle = trained
    manifest = yaml.safe_load(report.manifest_path.read_text(encoding="utf-8"))
    (entry,) = manifest["models"]
    assert entry["id"] == "propensity"
    assert (bundle / entry["file"]).resolve() == report.onnx_path.resolve()
    assert entry["output"] == "probabilities"
    declared = [(i["name"], i["source"], i["kind"]) for i in entry["inputs"]]
    assert declared == [(f.name, f.source, f.kind) for f in DEMO_FEATURES]

    graph = onnx.load_from_string(report.onnx_path.read_bytes()).graph
    elem = {"numeric": onnx.TensorProto.FLOAT, "categorical": onnx.TensorProto.STRING}
    got = [
        (
            i.name,
            i.type.tensor_type.elem_type,
            [d.dim_value or None for d in i.type.tensor_type.shape.dim],
        )
        for i in graph.input
    ]
    assert got == [(f.name, elem[f.kind], [None, 1]) for f in DEMO_FEATURES]
    probabilities = {o.name: o for o in graph.output}["probabilities"]
    assert probabilities.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert probabilities.type.tensor_type.shape.dim[1].dim_value == 2


def test_manifest_training_section_matches_the_report(
    trained: tuple[DemoTrainingReport, Path],
) -> None:
    report, _ = trained
    text = report.manifest_path.read_text(encoding="utf-8")
    assert text.startswith("# Written by nextbest training; do not edit by hand.\n")
    training = yaml.safe_load(text)["models"][0]["training"]
    assert training["seed"] == SEED
    assert training["rows"] == report.rows == 30_000
    for key in ("positive_rate", "holdout_auc", "holdout_log_loss", "max_parity_delta"):
        assert isinstance(training[key], float), key
        assert training[key] == pytest.approx(getattr(report, key), rel=1e-5, abs=1e-12)
    assert 0.03 <= report.positive_rate <= 0.10
    assert report.holdout_auc > 0.70
    assert report.max_parity_delta <= 1e-5
    assert report.onnx_path.stat().st_mode & 0o044 == 0o044  # readable by the service user


# --- parity and robustness of the exported graph


def test_onnx_matches_sklearn_on_held_out_and_awkward_rows() -> None:
    offers, vocabulary = load_catalogue(DEMO_BUNDLE)
    history = generate_demo_history(offers, vocabulary, 4_000, seed=7)
    train_ix, test_ix = train_test_split(
        np.arange(4_000), test_size=0.25, stratify=history["accepted"], random_state=7
    )
    train = {k: v[train_ix] for k, v in history.items()}
    holdout = {k: v[test_ix] for k, v in history.items()}
    pipeline = build_pipeline(DEMO_FEATURES, seed=7)
    pipeline.fit(feature_matrix(train, DEMO_FEATURES), train["accepted"])
    model = export_onnx(pipeline, DEMO_FEATURES, name="propensity")

    # Held-out rows plus rows with every numeric missing and every category unseen.
    n = 50
    awkward: dict[str, Any] = {
        f.name: (
            np.full(n, np.nan, dtype=np.float32)
            if f.kind == "numeric"
            else np.array([f"never_seen_{i}" if i % 2 else "" for i in range(n)], dtype=object)
        )
        for f in DEMO_FEATURES
    }
    rows = {k: np.concatenate([holdout[k], awkward[k]]) for k in awkward}
    expected = pipeline.predict_proba(feature_matrix(rows, DEMO_FEATURES))
    (got,) = single_thread_session(model).run(["probabilities"], onnx_feed(rows, DEMO_FEATURES))
    assert np.max(np.abs(np.asarray(got, dtype=np.float64) - expected)) <= 1e-5
    assert check_parity(pipeline, model, rows, DEMO_FEATURES) <= 1e-5


def test_missing_and_unseen_values_are_scored(session: Any) -> None:
    nan = float("nan")
    p = _p_accept(
        session,
        _request(clv=nan, tenure_months=nan, churn_score=nan, wait_time_s=nan),
        _request(lifecycle_stage="", call_reason="", channel=""),
        _request(offer_id="brand_new_offer", category="mystery", channel="app"),
    )
    assert np.all(np.isfinite(p))
    assert np.all((p > 0.0) & (p < 1.0))


def test_parity_failure_raises_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = _bundle_copy(tmp_path / "bundle")
    monkeypatch.setattr(export, "PARITY_TOLERANCE", -1.0)
    with pytest.raises(ParityError):
        build_demo_models(bundle, seed=SEED, n_rows=1_500)
    assert not (bundle / "models").exists()
    assert not (bundle / "models.yaml").exists()


# --- reproducibility


def test_same_seed_gives_byte_identical_outputs(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        report = build_demo_models(_bundle_copy(tmp_path / name), seed=SEED, n_rows=3_000)
        outputs.append((report.onnx_path.read_bytes(), report.manifest_path.read_bytes()))
    # A fresh process with another string hash seed, through the command line.
    cli_bundle = _bundle_copy(tmp_path / "cli")
    src = str(Path(nextbest.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONHASHSEED": "4242",
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
    }
    cmd = [sys.executable, "-m", "nextbest.training.demo", "--bundle", str(cli_bundle)]
    done = subprocess.run(
        [*cmd, "--rows", "3000"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "held-out ROC AUC" in done.stdout
    outputs.append(
        (
            (cli_bundle / "models/propensity.onnx").read_bytes(),
            (cli_bundle / "models.yaml").read_bytes(),
        )
    )
    assert outputs[0] == outputs[1] == outputs[2]

    other = build_demo_models(_bundle_copy(tmp_path / "other"), seed=SEED + 1, n_rows=3_000)
    assert other.onnx_path.read_bytes() != outputs[0][0]


def test_main_prints_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle_copy(tmp_path / "bundle")
    assert main(["--bundle", str(bundle), "--rows", "1500", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "positive rate" in out
    assert "max parity delta" in out
    assert (bundle / "models" / "propensity.onnx").is_file()


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
    assert a.keys() == b.keys() == {f.name for f in DEMO_FEATURES} | {"accepted"}
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
