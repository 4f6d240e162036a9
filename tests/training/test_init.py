"""`nextbest init`: a first bundle from a spec (and a history) that validates and serves at
once; then `train` -> `validate` -> serve, from a CSV with upper-case column names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from litestar.testing import TestClient

from helpers import decision_request
from nextbest.api.app import create_app
from nextbest.bundle import load_bundle
from nextbest.cli import main
from nextbest.decide import Decider
from nextbest.training.history import write_csv
from nextbest.training.scaffold import PRIOR_RATE

SPEC: dict[str, Any] = {
    "model": {"id": "propensity", "family": "logreg"},
    "folds": 3,
    "outcome": {"column": "ACCEPTED"},
    "offer": {"column": "OFFER_ID"},
    "features": {
        "numeric": {"TENURE_MONTHS": "customer.attributes.tenure_months", "CLV": "customer.clv"},
        "categorical": {
            "CHANNEL": "context.channel",
            "CALL_REASON": "context.call_reason",
            "SEGMENT": "customer.attributes.segment",
        },
    },
}
OFFERS = np.array(["gas_supply", "smart_meter", "green_tariff"], dtype=object)


def _history(path: Path, rows: int = 1_500) -> Path:
    rng = np.random.default_rng(9)
    tenure = rng.integers(0, 120, rows).astype(np.float32)
    tenure[rng.random(rows) < 0.05] = np.nan
    offer = rng.integers(0, len(OFFERS), rows)
    reason = np.array(["billing", "move_house", ""], dtype=object)[rng.integers(0, 3, rows)]
    logit = (
        -2.0 + 0.015 * np.nan_to_num(tenure) + 1.0 * (offer == 1) + 0.8 * (reason == "move_house")
    )
    write_csv(
        {
            "CUSTOMER_ID": np.array([f"C{i}" for i in range(rows)], dtype=object),
            "TENURE_MONTHS": tenure,
            "CLV": rng.gamma(2.0, 600.0, rows).astype(np.float32),
            "CHANNEL": np.array(["web", "call_center"], dtype=object)[rng.integers(0, 2, rows)],
            "CALL_REASON": reason,
            "SEGMENT": np.array(["Private", "SME"], dtype=object)[rng.integers(0, 2, rows)],
            "OFFER_ID": OFFERS[offer],
            "ACCEPTED": (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64),
        },
        path,
    )
    return path


def _write(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _decide(bundle: Path, **request: Any) -> dict[str, float]:
    body = decision_request(limit=10, explain=True, **request)
    with TestClient(create_app(Decider(load_bundle(bundle)))) as client:
        response = client.post("/v1/decisions", json=body)
    assert response.status_code == 200, response.text
    return {c["offer_id"]: c["propensity"] for c in response.json()["explanation"]["candidates"]}


def test_init_train_validate_serve_from_upper_case_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _history(tmp_path / "history.csv")
    spec = _write(tmp_path / "spec.yaml", SPEC)
    bundle = tmp_path / "first"

    assert main(["init", str(bundle), "--spec", str(spec), "--data", str(data)]) == 0
    assert main(["validate", str(bundle)]) == 0
    meta = yaml.safe_load((bundle / "bundle.yaml").read_text())
    assert meta["vocabulary"]["channels"] == ["call_center", "web"]
    assert meta["vocabulary"]["call_reasons"] == ["billing", "move_house"]
    assert meta["customer_attributes"] == {"tenure_months": "number", "segment": "string"}
    offers = yaml.safe_load((bundle / "offers.yaml").read_text())["offers"]
    assert sorted(o["id"] for o in offers) == sorted(OFFERS)
    assert all(o["model"] == "propensity" for o in offers)
    # Before training every offer gets the history's acceptance rate.
    prior = _decide(bundle, channel="web", customer_attributes={"segment": "SME"})
    rate = yaml.safe_load((bundle / "models.yaml").read_text())["models"][0]["training"]
    assert set(prior) == set(OFFERS)
    assert all(p == pytest.approx(rate["positive_rate"], abs=1e-6) for p in prior.values())

    trained_spec = bundle / "training" / "spec.yaml"
    argv = ["train", "--data", str(data), "--spec", str(trained_spec), "--out", str(bundle)]
    assert main([*argv, "--quiet"]) == 0, capsys.readouterr().err
    assert main(["validate", str(bundle)]) == 0
    served = _decide(
        bundle,
        channel="call_center",
        call_reason="move_house",
        customer_attributes={"tenure_months": 100, "segment": "Private"},
    )
    assert served["smart_meter"] > served["gas_supply"]  # what the history says
    entry = yaml.safe_load((bundle / "models.yaml").read_text())["models"][0]
    assert entry["training"]["family"] == "logreg"
    assert [i["name"] for i in entry["inputs"]][-1] == "OFFER_ID"

    # Retrained without a column: the model's entry is replaced, the input is gone.
    fewer = yaml.safe_load(trained_spec.read_text())
    del fewer["features"]["categorical"]["SEGMENT"]
    argv[4] = str(_write(tmp_path / "fewer.yaml", fewer))
    assert main([*argv, "--quiet"]) == 0, capsys.readouterr().err
    (entry,) = yaml.safe_load((bundle / "models.yaml").read_text())["models"]
    assert "SEGMENT" not in [i["name"] for i in entry["inputs"]]
    assert main(["validate", str(bundle)]) == 0


def test_init_without_a_history_writes_a_prior_of_five_percent(tmp_path: Path) -> None:
    spec = dict(SPEC, offer={"id": "gas_supply"})
    bundle = tmp_path / "b"
    assert main(["init", str(bundle), "--spec", str(_write(tmp_path / "spec.yaml", spec))]) == 0
    served = _decide(bundle, channel="web")
    assert served == {"gas_supply": pytest.approx(PRIOR_RATE, abs=1e-6)}


def test_init_lists_every_problem_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _history(tmp_path / "history.csv")
    text = (tmp_path / "history.csv").read_text().replace(",web,", ",Web Shop,")
    (tmp_path / "history.csv").write_text(text)
    spec = dict(SPEC)
    spec["features"] = {
        "numeric": {"TENURE_MONTHS": "customer.attributes.Tenure"},
        "categorical": SPEC["features"]["categorical"],
    }
    bundle = tmp_path / "b"
    code = main(
        ["init", str(bundle), "--spec", str(_write(tmp_path / "s.yaml", spec)), "--data", str(data)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "2 problems" in err
    assert "features.numeric.TENURE_MONTHS" in err
    assert "column 'CHANNEL'" in err
    assert "'Web Shop'" in err
    assert not bundle.exists()
