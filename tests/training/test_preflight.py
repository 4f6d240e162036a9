"""`nextbest train` checks the spec, the history's header and the bundle before it fits,
and names every problem in one message; column names of any case work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from nextbest.cli import main
from nextbest.training.history import write_csv
from nextbest.training.spec import ATTRIBUTE_RULE

REPO = Path(__file__).resolve().parents[2]
DEMO_BUNDLE = REPO / "models" / "demo-energy"

SPEC: dict[str, Any] = {
    "model": {"id": "propensity", "family": "logreg"},
    "folds": 3,
    "outcome": {"column": "accepted"},
    "offer": {"id": "gas_supply"},
    "features": {
        "numeric": {
            "tenure_months": "customer.attributes.tenure_months",
            "churn_score": "customer.attributes.churn_score",
        },
        "categorical": {"region": "customer.attributes.region"},
    },
}


def _history(path: Path, names: dict[str, str] | None = None, rows: int = 600) -> Path:
    rng = np.random.default_rng(3)
    tenure = rng.integers(0, 120, rows).astype(np.float32)
    churn = rng.random(rows).astype(np.float32)
    p = 1 / (1 + np.exp(-(-1.5 + 2.0 * churn)))
    columns = {
        "tenure_months": tenure,
        "churn_score": churn,
        "region": np.array(["north", "south", ""], dtype=object)[rng.integers(0, 3, rows)],
        "accepted": (rng.random(rows) < p).astype(np.int64),
    }
    names = names or {}
    write_csv({names.get(k, k): v for k, v in columns.items()}, path)
    return path


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _train(tmp: Path, spec: dict[str, Any], data: Path) -> tuple[int, Path]:
    bundle = tmp / "bundle"
    if not bundle.exists():
        shutil.copytree(DEMO_BUNDLE, bundle, ignore=shutil.ignore_patterns("training"))
    spec_path = tmp / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    argv = ["train", "--data", str(data), "--spec", str(spec_path), "--out", str(bundle)]
    return main([*argv, "--quiet"]), bundle


def test_every_problem_is_reported_at_once_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _history(tmp_path / "history.csv", {"churn_score": "churn"})
    spec = json.loads(json.dumps(SPEC))
    spec["offer"] = {"id": "gas_suply"}
    spec["features"]["numeric"]["clv"] = "customer.CLV"
    spec["features"]["categorical"]["page"] = "context.attributes.page_name"
    bundle = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE, bundle, ignore=shutil.ignore_patterns("training"))
    before = _files(bundle)
    code, _ = _train(tmp_path, spec, data)
    err = capsys.readouterr().err
    assert code == 2
    assert "6 problems, nothing trained" in err
    for words in (
        # "did you mean" ignores case
        ("features.numeric.clv", "unknown source 'customer.CLV'", "did you mean 'customer.clv'"),
        ("features.categorical.page", "unknown source 'context.attributes.page_name'"),
        ("offer.id", "offer 'gas_suply' is not in offers.yaml", "gas_supply"),
        ("column 'churn_score'", "features.numeric.churn_score", "did you mean 'churn'"),
        ("column 'clv'", "features.numeric.clv"),
        ("column 'page'", "features.categorical.page"),
    ):
        line = next((x for x in err.splitlines() if words[0] in x), "")
        for word in words:
            assert word in line, (word, err)
    assert _files(bundle) == before


def test_an_attribute_in_upper_case_gets_the_naming_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _history(tmp_path / "history.csv", {"tenure_months": "TENURE_MONTHS"})
    spec = json.loads(json.dumps(SPEC))
    del spec["features"]["numeric"]["tenure_months"]
    spec["features"]["numeric"]["TENURE_MONTHS"] = "customer.attributes.TENURE_MONTHS"
    code, _ = _train(tmp_path, spec, data)
    err = capsys.readouterr().err
    assert code == 2
    assert "features.numeric.TENURE_MONTHS" in err
    assert "did you mean 'customer.attributes.tenure_months'" in err
    assert ATTRIBUTE_RULE in err


@pytest.mark.parametrize(
    "spelling",
    [{"tenure_months": "TENURE_MONTHS", "region": "Region", "accepted": "ACCEPTED"}, {}],
)
def test_columns_match_in_any_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spelling: dict[str, str]
) -> None:
    data = _history(tmp_path / "history.csv", spelling)
    code, bundle = _train(tmp_path, SPEC, data)
    assert code == 0, capsys.readouterr().err
    entry = yaml.safe_load((bundle / "models.yaml").read_text())["models"][0]
    # The model's inputs are named as the spec names them, whatever the file's case.
    assert [i["name"] for i in entry["inputs"]] == ["tenure_months", "churn_score", "region"]
    assert entry["training"]["rows"] == 600
