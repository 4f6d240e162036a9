"""The operator files in deploy/: the Grafana dashboard and the Prometheus alert rules name
only metrics the service exports, and the rules pass `promtool check rules`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar.testing import TestClient
from prometheus_client import REGISTRY

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "nextbest-dashboard.json"
RULES = DEPLOY / "prometheus" / "nextbest-alerts.yaml"
PROMTOOL_EXTRACTED = Path("/opt/prometheus-tools/usr/bin/promtool")
"""Where .ci/run unpacks Debian's prometheus package (its promtool, without the daemon)."""
METRIC = re.compile(r"\b(nextbest_[a-z0-9_]+)")
SUFFIXES = ("", "_total", "_count", "_sum", "_bucket", "_created")


@pytest.fixture(scope="module")
def exported(client: TestClient[Any]) -> set[str]:
    """Every series name the service's registry can expose (the app is built by `client`)."""
    assert client.get("/metrics").status_code == 200
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        if family.name.startswith("nextbest_")
        for suffix in SUFFIXES
    }


def _expressions(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_the_dashboard_parses_and_names_only_exported_metrics(exported: set[str]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] == "nextbest"
    expressions = _expressions(dashboard)
    assert len(expressions) >= 10
    named = {name for expr in expressions for name in METRIC.findall(expr)}
    assert named
    assert named <= exported, named - exported
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_the_dashboard_shows_http_decisions_the_breaker_and_the_releases() -> None:
    expressions = " ".join(_expressions(json.loads(DASHBOARD.read_text())))
    for metric in (
        "nextbest_http_request_duration_seconds_bucket",
        "nextbest_decisions_total",
        "nextbest_contact_store_breaker_open",
        "nextbest_contact_releases_total",
        "nextbest_contact_releases_pending",
        "nextbest_bundle_reloads_total",
        "nextbest_experiment_decisions_total",
        "nextbest_experiment_responses_total",
    ):
        assert metric in expressions


def test_the_alert_rules_are_well_formed_and_name_only_exported_metrics(
    exported: set[str],
) -> None:
    document = yaml.safe_load(RULES.read_text())
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    alerts = {rule["alert"]: rule for rule in rules}
    assert {
        "NextbestDegradedDecisions",
        "NextbestDecisionLatencyP99High",
        "NextbestServerErrors",
        "NextbestBundleReloadRefused",
        "NextbestContactReleasesAbandoned",
    } <= set(alerts)
    for rule in rules:
        assert rule["expr"].strip()
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        named = set(METRIC.findall(rule["expr"]))
        assert named
        assert named <= exported, (rule["alert"], named - exported)


def _promtool() -> str | None:
    found = shutil.which("promtool")
    if found:
        return found
    return str(PROMTOOL_EXTRACTED) if PROMTOOL_EXTRACTED.exists() else None


def test_the_alert_rules_pass_promtool() -> None:
    promtool = _promtool()
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail(f"promtool missing: .ci/run unpacks it to {PROMTOOL_EXTRACTED}")
        pytest.skip("promtool is not installed (see .ci/run)")
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rules = sum(len(group["rules"]) for group in yaml.safe_load(RULES.read_text())["groups"])
    assert f"SUCCESS: {rules} rules found" in result.stdout
