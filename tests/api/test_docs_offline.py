"""The API docs pages load every script and style from the service itself, no CDN; the
OpenAPI document tells the truth about statuses and media types."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient

from nextbest.api.app import create_app
from nextbest.config import Settings
from nextbest.decide import Decider


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
def test_the_docs_page_needs_nothing_from_another_host(client: TestClient[Any], page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert "http://" not in html
    assert "https://" not in html
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert {a.rsplit("/", 1)[-1] for a in assets} >= {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-ui-standalone-preset.js",
    }
    for asset in assets:
        assert asset.startswith("/schema/assets/")
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 100


def _operations(client: TestClient[Any]) -> dict[str, Any]:
    document = client.get("/schema/openapi.json").json()
    return {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_errors_are_documented_as_problem_documents(client: TestClient[Any]) -> None:
    operations = _operations(client)
    expected = {
        "POST /v1/decisions": {"200", "400", "413", "422", "503"},
        "POST /v1/feedback": {"202", "400", "413", "422", "503"},
    }
    for name, statuses in expected.items():
        responses = operations[name]["responses"]
        assert set(responses) == statuses
        for status in statuses - {"200", "202"}:
            content = responses[status]["content"]
            assert list(content) == ["application/problem+json"]
            assert content["application/problem+json"]["schema"]["$ref"].endswith("/Problem")


def test_requests_have_examples_and_fields_descriptions(client: TestClient[Any]) -> None:
    document = client.get("/schema/openapi.json").json()
    body = document["paths"]["/v1/decisions"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["examples"]
    context = document["components"]["schemas"]["Context"]["properties"]
    assert "vocabulary" in context["channel"]["description"]
    assert "call_center" in document["info"]["description"]
    assert "type" in document["components"]["schemas"]["Problem"]["required"]


def test_metrics_are_documented_as_text(client: TestClient[Any]) -> None:
    metrics = _operations(client)["GET /metrics"]
    assert list(metrics["responses"]["200"]["content"]) == ["text/plain"]


def test_reload_is_documented_as_200(decider: Decider) -> None:
    settings = Settings.from_env({"NEXTBEST_ADMIN_TOKEN": "a-token-of-sixteen-chars"})
    with TestClient(create_app(decider, settings)) as client:
        reload = _operations(client)["POST /admin/bundle/reload"]
    assert set(reload["responses"]) == {"200", "400", "401", "413", "422"}
    assert reload["requestBody"]["required"] is False
