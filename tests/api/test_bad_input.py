"""Every malformed request gets a 4xx problem document naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from helpers import decision_request


def _with(change: dict[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    body = decision_request()
    target = body
    for key in path:
        target = target[key]
    target.update(change)
    return body


def _without(key: str, path: tuple[str, ...] = ()) -> dict[str, Any]:
    body = decision_request()
    target = body
    for part in path:
        target = target[part]
    del target[key]
    return body


CASES = [
    pytest.param(_without("id", ("customer",)), "customer.id", id="missing customer.id"),
    pytest.param(_without("channel", ("context",)), "context.channel", id="missing channel"),
    pytest.param(_without("customer"), "customer", id="missing customer"),
    pytest.param(_with({"id": 1001}, ("customer",)), "customer.id", id="id not a string"),
    pytest.param(_with({"id": ""}, ("customer",)), "customer.id", id="empty id"),
    pytest.param(_with({"clv": "high"}, ("customer",)), "customer.clv", id="clv not a number"),
    pytest.param(_with({"limit": "3"}), "limit", id="limit not an int"),
    pytest.param(_with({"limit": 0}), "limit", id="limit 0"),
    pytest.param(_with({"limit": 26}), "limit", id="limit 26"),
    pytest.param(_with({"explain": "yes"}), "explain", id="explain not a bool"),
    pytest.param(_with({"surprise": 1}), "surprise", id="unknown top-level field"),
    pytest.param(_with({"age": 40}, ("customer",)), "customer.age", id="unknown customer field"),
    pytest.param(
        _with({"wait_time_s": -5}, ("context",)), "context.wait_time_s", id="negative wait"
    ),
    pytest.param(
        _with({"attributes": {"tenure_months": {"years": 2}}}, ("customer",)),
        "customer.attributes",
        id="attribute of an unsupported type",
    ),
    pytest.param(_with({"channel": "fax"}, ("context",)), "context.channel", id="unknown channel"),
    pytest.param(
        _with({"call_reason": "alien_visit"}, ("context",)),
        "context.call_reason",
        id="unknown call reason",
    ),
    pytest.param(
        _with({"lifecycle_stage": "teenager"}, ("customer",)),
        "customer.lifecycle_stage",
        id="unknown lifecycle stage",
    ),
    pytest.param(
        _with({"attributes": {"tenure_months": "long"}}, ("customer",)),
        "customer.attributes.tenure_months",
        id="declared attribute of the wrong type",
    ),
]


@pytest.mark.parametrize(("body", "field"), CASES)
def test_bad_request_names_the_field(
    client: TestClient[Any], body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/decisions", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]], problem
    assert field in problem["detail"]


def test_unknown_channel_lists_the_allowed_values(client: TestClient[Any]) -> None:
    response = client.post("/v1/decisions", json=_with({"channel": "fax"}, ("context",)))
    assert "call_center" in response.json()["detail"]
    assert "web" in response.json()["detail"]


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"{", b"[]", b'"a string"', b"", b'{"customer": {"id": "C-1"}'],
)
def test_malformed_json_is_a_400_or_422_problem(client: TestClient[Any], raw: bytes) -> None:
    response = client.post(
        "/v1/decisions", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    assert response.json()["status"] == response.status_code
    assert "Traceback" not in response.text


def test_oversized_body_is_refused_with_413(client: TestClient[Any]) -> None:
    body = decision_request()
    body["customer"]["attributes"] = {"region": "x" * 100_000}
    response = client.post("/v1/decisions", json=body)
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_unknown_route_is_a_404_problem(client: TestClient[Any]) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_wrong_method_is_a_405_problem(client: TestClient[Any]) -> None:
    response = client.get("/v1/decisions")
    assert response.status_code == 405
    assert response.json()["status"] == 405


def test_undeclared_attributes_are_ignored(client: TestClient[Any]) -> None:
    body = _with({"attributes": {"favourite_colour": "green"}}, ("customer",))
    assert client.post("/v1/decisions", json=body).status_code == 200
