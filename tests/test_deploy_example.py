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


def _pod_spec() -> dict[str, Any]:
    [deployment] = [
        d for d in _documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == "nextbest"
    ]
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def _container() -> dict[str, Any]:
    container: dict[str, Any] = _pod_spec()["containers"][0]
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


def _cluster_documents() -> dict[str, dict[str, Any]]:
    return {
        doc["kind"]: doc
        for doc in yaml.safe_load_all((EXAMPLE / "cluster" / "redis-cluster.yaml").read_text())
    }


def test_the_cluster_example_runs_six_nodes_in_cluster_mode_that_fsync_every_write() -> None:
    documents = _cluster_documents()
    nodes = documents["StatefulSet"]["spec"]
    assert nodes["replicas"] == 6
    args = nodes["template"]["spec"]["containers"][0]["args"]
    options = dict(zip(args[::2], args[1::2], strict=True))
    assert options["--cluster-enabled"] == "yes"
    assert options["--cluster-require-full-coverage"] == "no"
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] == "always"
    create = " ".join(documents["Job"]["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "--cluster-replicas 1" in create


def test_the_cluster_patch_points_the_deployment_at_the_cluster() -> None:
    patch = yaml.safe_load((EXAMPLE / "cluster" / "nextbest-patch.yaml").read_text())
    [patched] = patch["spec"]["template"]["spec"]["containers"]
    assert patched["name"] == _container()["name"]
    env = {e["name"]: e.get("value", "x" * 32) for e in _container()["env"]}
    env |= {e["name"]: e["value"] for e in patched["env"]}  # a strategic merge, by name
    settings = Settings.from_env(env)
    assert settings.redis_cluster
    service = _cluster_documents()["Service"]["metadata"]["name"]
    assert settings.redis_url.startswith(f"redis://{service}:")


def _image_env() -> dict[str, str]:
    """The runtime stage's ENV of the Dockerfile (key=value pairs)."""
    text = (EXAMPLE.parents[1] / "Dockerfile").read_text().replace("\\\n", " ")
    runtime = text.split(" AS runtime", 1)[1]
    pairs = [
        word
        for line in runtime.splitlines()
        if line.startswith("ENV ")
        for word in line.split()[1:]
    ]
    return dict(pair.split("=", 1) for pair in pairs)


def test_what_the_pod_writes_is_on_a_volume() -> None:
    """The root file system is read-only: the history's directory and the temporary
    directory (several workers' shared metrics) must be mounted volumes."""
    container = _container()
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    settings = Settings.from_env(
        _image_env() | {e["name"]: e.get("value", "x" * 32) for e in container["env"]}
    )
    mounts = [Path(m["mountPath"]) for m in container["volumeMounts"]]
    assert settings.history_sink == "file"
    assert any(settings.history_dir.is_relative_to(m) for m in mounts)
    assert Path("/tmp") in mounts
    volumes = {v["name"] for v in _pod_spec()["volumes"]}
    assert {m["name"] for m in container["volumeMounts"]} <= volumes
    claims = {d["metadata"]["name"] for d in _documents() if d["kind"] == "PersistentVolumeClaim"}
    assert "nextbest-history" in claims
