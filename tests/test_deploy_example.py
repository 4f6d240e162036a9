"""The Kubernetes example names real settings and probes real routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from litestar.testing import TestClient

from nextbest.api.app import create_app
from nextbest.config import Settings
from nextbest.decide import Decider

EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes"


def _documents() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(EXAMPLE.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def _container() -> dict[str, Any]:
    [deployment] = [
        d for d in _documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == "nextbest"
    ]
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_every_variable_is_a_setting_with_a_valid_value() -> None:
    env = {e["name"]: e.get("value", "x" * 32) for e in _container()["env"]}
    known = {f"NEXTBEST_{name.upper()}" for name in Settings.__struct_fields__}
    assert set(env) <= known
    settings = Settings.from_env(env)
    assert settings.workers == 1
    assert settings.redis_url.startswith("redis://")


def test_the_probes_ask_routes_the_app_serves(decider: Decider) -> None:
    container = _container()
    probes = [container[p]["httpGet"]["path"] for p in ("readinessProbe", "livenessProbe")]
    assert probes == ["/health/ready", "/health/live"]
    with TestClient(create_app(decider)) as client:
        assert all(client.get(path).status_code == 200 for path in probes)


def test_the_pod_outlives_the_shutdown_grace() -> None:
    [deployment] = [d for d in _documents() if d["metadata"]["name"] == "nextbest"][:1]
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    env = {e["name"]: e.get("value") for e in _container()["env"]}
    assert grace > int(env["NEXTBEST_SHUTDOWN_GRACE_S"]) + 5  # + the preStop sleep
