"""A bad bundle is refused whole, with the file and the field named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import DEMO_BUNDLE, EditYaml
from nextbest.bundle import BundleError, load_bundle, seal_bundle


def refusal(root: Path) -> BundleError:
    with pytest.raises(BundleError) as caught:
        load_bundle(root)
    return caught.value


def test_demo_bundle_loads(bundle_copy: Path) -> None:
    bundle = load_bundle(bundle_copy)
    assert 15 <= len(bundle.offers) <= 25
    assert {o.category for o in bundle.offers} == {"upsell", "cross_sell", "retention", "service"}
    assert bundle.models


def test_bad_yaml_names_file_and_line(bundle_copy: Path) -> None:
    path = bundle_copy / "offers.yaml"
    lines = path.read_text().splitlines()
    lines[5] = lines[5] + ": : ["
    path.write_text("\n".join(lines))
    seal_bundle(bundle_copy)
    error = refusal(bundle_copy)
    assert error.file == "offers.yaml"
    assert error.field is not None
    assert "line" in error.field


def test_unknown_field_is_named(bundle_copy: Path, edit_yaml: EditYaml) -> None:
    edit_yaml("offers.yaml", lambda d: d["offers"][2].update(colour="green"))
    error = refusal(bundle_copy)
    assert error.file == "offers.yaml"
    assert error.field == "offers[2].colour"
    assert "colour" in error.problem


def test_wrong_type_is_named(bundle_copy: Path, edit_yaml: EditYaml) -> None:
    edit_yaml("offers.yaml", lambda d: d["offers"][1].update(value="lots"))
    error = refusal(bundle_copy)
    assert (error.file, error.field) == ("offers.yaml", "offers[1].value")


def test_rule_that_does_not_parse(bundle_copy: Path, edit_yaml: EditYaml) -> None:
    edit_yaml("rules.yaml", lambda d: d["rules"][0].update(when="context.call_reason == "))
    error = refusal(bundle_copy)
    assert (error.file, error.field) == ("rules.yaml", "rules[0].when")


def test_rule_naming_an_unknown_attribute(bundle_copy: Path, edit_yaml: EditYaml) -> None:
    edit_yaml(
        "rules.yaml", lambda d: d["rules"][3].update(when="customer.attributes.shoe_size > 44")
    )
    error = refusal(bundle_copy)
    assert (error.file, error.field) == ("rules.yaml", "rules[3].when")
    assert "customer.attributes.shoe_size" in error.problem


def test_python_in_a_rule_is_refused(bundle_copy: Path, edit_yaml: EditYaml) -> None:
    edit_yaml("rules.yaml", lambda d: d["rules"][0].update(when="__import__('os').system('id')"))
    error = refusal(bundle_copy)
    assert error.field == "rules[0].when"


def test_rule_selecting_an_unknown_offer(bundle_copy: Path, edit_yaml: EditYaml) -> None:
    edit_yaml("rules.yaml", lambda d: d["rules"][0].update(applies_to={"offers": ["time_machine"]}))
    error = refusal(bundle_copy)
    assert (error.file, error.field) == ("rules.yaml", "rules[0].applies_to.offers")


def test_offer_on_an_unknown_channel(bundle_copy: Path, edit_yaml: EditYaml) -> None:
    edit_yaml("offers.yaml", lambda d: d["offers"][0].update(channels=["carrier_pigeon"]))
    error = refusal(bundle_copy)
    assert (error.file, error.field) == ("offers.yaml", "offers[0].channels")


def test_missing_model_file(bundle_copy: Path) -> None:
    (bundle_copy / "models" / "propensity.onnx").unlink()
    error = refusal(bundle_copy)
    assert (error.file, error.field) == ("models.yaml", "models[0].file")


def test_corrupt_model_file(bundle_copy: Path) -> None:
    (bundle_copy / "models" / "propensity.onnx").write_bytes(b"\x08\x07not really onnx")
    seal_bundle(bundle_copy)
    error = refusal(bundle_copy)
    assert error.file == "models.yaml"
    assert "propensity.onnx" in error.problem


def test_model_inputs_that_do_not_match_the_graph(bundle_copy: Path, edit_yaml: EditYaml) -> None:
    def rename_first_input(d: Any) -> None:
        d["models"][0]["inputs"][0]["name"] = "not_in_graph"

    edit_yaml("models.yaml", rename_first_input)
    error = refusal(bundle_copy)
    assert (error.file, error.field) == ("models.yaml", "models[0].inputs")


def test_model_input_from_an_unknown_field(bundle_copy: Path, edit_yaml: EditYaml) -> None:
    def bad_source(d: Any) -> None:
        d["models"][0]["inputs"][0]["source"] = "customer.attributes.nope"

    edit_yaml("models.yaml", bad_source)
    error = refusal(bundle_copy)
    assert (error.file, error.field) == ("models.yaml", "models[0].inputs[0].source")


def test_file_changed_after_sealing(bundle_copy: Path) -> None:
    path = bundle_copy / "offers.yaml"
    path.write_text(path.read_text().replace("value: 120", "value: 121"))
    error = refusal(bundle_copy)
    assert error.file == "offers.yaml"
    assert "checksum" in error.problem


def test_policy_with_a_nonsensical_window(bundle_copy: Path, edit_yaml: EditYaml) -> None:
    edit_yaml("policies.yaml", lambda d: d["policies"][0].update(window="0d"))
    error = refusal(bundle_copy)
    assert (error.file, error.field) == ("policies.yaml", "policies[0].window")


def test_validate_command_accepts_the_demo_and_refuses_a_bad_copy(
    bundle_copy: Path, edit_yaml: EditYaml
) -> None:
    good = subprocess.run(
        [sys.executable, "-m", "nextbest.cli", "validate", str(DEMO_BUNDLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert good.returncode == 0, good.stderr
    assert "demo-energy" in good.stdout

    edit_yaml("rules.yaml", lambda d: d["rules"][1].update(then="explode"))
    bad = subprocess.run(
        [sys.executable, "-m", "nextbest.cli", "validate", str(bundle_copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "rules.yaml: rules[1].then" in bad.stderr
    assert "Traceback" not in bad.stderr
