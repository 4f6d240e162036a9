"""Problem documents: 400 for a body that is not JSON on every route that reads one, every
vocabulary problem listed, `type` always present, the refused reload a problem too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from helpers import EditYaml, decision_request
from nextbest.api.app import create_app
from nextbest.bundle import load_bundle
from nextbest.config import Settings
from nextbest.decide import Decider

TOKEN = "s3cret-admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"content-type": "application/json"}
BODY_ROUTES = ["/v1/decisions", "/v1/feedback", "/admin/bundle/reload"]

NOT_UTF8 = [
    pytest.param(b"\xff\xfe", id="bare invalid bytes"),
    pytest.param(b'{"customer": {"id": "\xff"}, "context": {"channel": "web"}}', id="in a value"),
    pytest.param(b'{"\xc3": 1}', id="in a key"),
    pytest.param(b'{"path": "/srv/\xe2\x82"}', id="truncated sequence"),
]


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Any]]:
    from helpers import DEMO_BUNDLE

    settings = Settings.from_env({"NEXTBEST_ADMIN_TOKEN": TOKEN})
    app = create_app(Decider(load_bundle(DEMO_BUNDLE)), settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _is_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"]
    assert problem["title"]
    return problem


@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize("raw", NOT_UTF8)
def test_invalid_utf8_is_a_400(admin: TestClient[Any], route: str, raw: bytes) -> None:
    response = admin.post(route, content=raw, headers={**JSON, **AUTH})
    problem = _is_problem(response, 400)
    assert problem["type"] == "urn:nextbest:problem:malformed-body"
    assert "UTF-8" in problem["detail"] or "malformed" in problem["detail"]


@pytest.mark.parametrize("route", ["/v1/decisions", "/v1/feedback"])
def test_an_empty_body_is_a_400(admin: TestClient[Any], route: str) -> None:
    problem = _is_problem(admin.post(route, content=b"", headers=JSON), 400)
    assert "empty" in problem["detail"]


def test_an_empty_reload_body_reloads_the_serving_directory(admin: TestClient[Any]) -> None:
    response = admin.post("/admin/bundle/reload", content=b"", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["result"] == "loaded"


@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize("raw", [b"{", b"not json", b'{"a": 1,}', b"\x00"])
def test_malformed_json_is_a_400(admin: TestClient[Any], route: str, raw: bytes) -> None:
    _is_problem(admin.post(route, content=raw, headers={**JSON, **AUTH}), 400)


def test_every_vocabulary_problem_is_listed(admin: TestClient[Any]) -> None:
    body = decision_request(
        channel="fax",
        call_reason="alien_visit",
        stage="teenager",
        customer_attributes={"tenure_months": "long"},
    )
    problem = _is_problem(admin.post("/v1/decisions", json=body), 422)
    assert problem["type"] == "urn:nextbest:problem:invalid-request"
    fields = [e["field"] for e in problem["errors"]]
    assert sorted(fields) == [
        "context.call_reason",
        "context.channel",
        "customer.attributes.tenure_months",
        "customer.lifecycle_stage",
    ]
    for field in fields:
        assert field in problem["detail"]


def test_every_feedback_vocabulary_problem_is_listed(admin: TestClient[Any]) -> None:
    body = {
        "decision_id": "d-1",
        "customer_id": "C-1",
        "offer_id": "no-such-offer",
        "channel": "fax",
        "outcome": "accepted",
    }
    problem = _is_problem(admin.post("/v1/feedback", json=body), 422)
    assert [e["field"] for e in problem["errors"]] == ["channel", "offer_id"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/nothing", 404),
        ("GET", "/v1/decisions", 405),
        ("POST", "/admin/bundle/reload", 401),
    ],
)
def test_http_errors_carry_a_type(
    admin: TestClient[Any], method: str, path: str, status: int
) -> None:
    problem = _is_problem(admin.request(method, path), status)
    assert problem["type"] == "about:blank"


def test_a_refused_reload_is_a_problem_document_with_its_problems(
    bundle_copy: Path, edit_yaml: EditYaml
) -> None:
    settings = Settings.from_env({"NEXTBEST_ADMIN_TOKEN": TOKEN})
    with TestClient(create_app(Decider(load_bundle(bundle_copy)), settings)) as client:
        version = client.get("/v1/bundle").json()["version"]

        def break_a_rule(data: Any) -> None:
            data["rules"][0]["when"] = "customer.clv >>> 3"

        edit_yaml("rules.yaml", break_a_rule)
        problem = _is_problem(client.post("/admin/bundle/reload", headers=AUTH), 422)
    assert problem["type"] == "urn:nextbest:problem:bundle-refused"
    assert problem["result"] == "refused"
    assert problem["version"] == version
    assert version in problem["detail"]
    [found] = problem["problems"]
    assert found["file"] == "rules.yaml"
    assert "rules.yaml" in problem["detail"]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("0" * 4096, id="name too long"),
        pytest.param("/srv/bundle\u0000", id="NUL byte"),
        pytest.param("/proc/1/root/x", id="no permission or missing"),
    ],
)
def test_an_unreadable_reload_path_is_refused_not_a_500(admin: TestClient[Any], path: str) -> None:
    problem = _is_problem(
        admin.post("/admin/bundle/reload", headers=AUTH, json={"path": path}), 422
    )
    assert problem["type"] == "urn:nextbest:problem:bundle-refused"
    assert problem["problems"][0]["file"] == path
