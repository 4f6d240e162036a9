from __future__ import annotations

from pathlib import Path

import pytest

from nextbest.config import Settings, SettingsError


def test_defaults_serve_the_demo_bundle() -> None:
    settings = Settings.from_env({})
    assert (settings.bundle / "bundle.yaml").is_file()
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)


def test_values_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {"NEXTBEST_BUNDLE": "/srv/bundle", "NEXTBEST_PORT": "9000", "NEXTBEST_LOG_FORMAT": "json"}
    )
    assert settings.bundle == Path("/srv/bundle")
    assert settings.port == 9000
    assert settings.log_format == "json"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NEXTBEST_PORT", "eighty"),
        ("NEXTBEST_PORT", "70000"),
        ("NEXTBEST_WORKERS", "0"),
        ("NEXTBEST_LOG_LEVEL", "loud"),
        ("NEXTBEST_MAX_BODY_BYTES", "10"),
        ("NEXTBEST_ADMIN_TOKEN", "short"),
        ("NEXTBEST_WATCH_BUNDLE", "sometimes"),
        ("NEXTBEST_WATCH_QUIET_MS", "0"),
        ("NEXTBEST_SHUTDOWN_GRACE_S", "-1"),
        ("NEXTBEST_REDIS_BUDGET_MS", "0"),
        ("NEXTBEST_REDIS_WAIT_REPLICAS", "-1"),
        ("NEXTBEST_DEGRADED_MODE", "web=maybe"),
    ],
)
def test_a_bad_value_names_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})


def test_the_readme_documents_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name in Settings.__struct_fields__:
        assert f"| `NEXTBEST_{name.upper()}` |" in readme, name


def test_a_cluster_waits_for_one_replica_unless_told_otherwise() -> None:
    assert Settings.from_env({}).wait_replicas() == 0
    assert Settings.from_env({"NEXTBEST_REDIS_CLUSTER": "true"}).wait_replicas() == 1
    told = {"NEXTBEST_REDIS_CLUSTER": "true", "NEXTBEST_REDIS_WAIT_REPLICAS": "0"}
    assert Settings.from_env(told).wait_replicas() == 0
    assert Settings.from_env({"NEXTBEST_REDIS_WAIT_REPLICAS": "2"}).wait_replicas() == 2
