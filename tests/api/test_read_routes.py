from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from nextbest.bundle import Bundle


def test_offers_lists_the_catalogue(client: TestClient[Any], demo_bundle: Bundle) -> None:
    body = client.get("/v1/offers").json()
    assert body["bundle_version"] == demo_bundle.version
    assert [o["id"] for o in body["offers"]] == [o.id for o in demo_bundle.offers]
    assert {o["category"] for o in body["offers"]} == {
        "upsell",
        "cross_sell",
        "retention",
        "service",
    }


def test_bundle_shows_version_and_checksums(client: TestClient[Any], demo_bundle: Bundle) -> None:
    body = client.get("/v1/bundle").json()
    assert body["name"] == "demo-energy"
    assert body["version"] == demo_bundle.version
    assert "models/propensity.onnx" in body["checksums"]
    assert all(v.startswith("sha256:") for v in body["checksums"].values())
    assert body["loaded_at"]


def test_health(client: TestClient[Any]) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready").json()
    assert ready["status"] == "ready"


def test_openapi_schema_describes_the_decision_route(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json").json()
    assert "/v1/decisions" in schema["paths"]
    assert client.get("/schema/swagger").status_code == 200


def test_openapi_shows_the_experiment_and_the_arm_as_optional(client: TestClient[Any]) -> None:
    schemas = client.get("/schema/openapi.json").json()["components"]["schemas"]
    answer = schemas["DecisionResponse"]
    for name in ("experiment", "arm"):
        assert answer["properties"][name]["oneOf"] == [{"type": "string"}]
        assert "absent" in answer["properties"][name]["description"]
        assert name not in answer["required"]
    assert "placement" in schemas["FeedbackRequest"]["properties"]
    assert "placement" not in schemas["FeedbackRequest"].get("required", [])
