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


# The documented split (README, "Errors"): 400 when the body is not JSON at all, 422 when
# it is JSON of the wrong shape or with wrong values. An empty body and invalid UTF-8 are
# left to the tests of their own fix.
NOT_JSON = [
    pytest.param(b"not json", id="words"),
    pytest.param(b"{", id="unclosed object"),
    pytest.param(b'{"', id="unclosed key"),
    pytest.param(b"{'customer': {}}", id="single quotes"),
    pytest.param(b"nul", id="truncated null"),
]


@pytest.mark.parametrize(
    ("route", "raw"),
    [
        *[pytest.param("/v1/decisions", *p.values, id=f"decisions-{p.id}") for p in NOT_JSON],
        *[pytest.param("/v1/feedback", *p.values, id=f"feedback-{p.id}") for p in NOT_JSON],
        pytest.param("/v1/decisions", b'{"customer": {"id": "C-1"}', id="decisions-truncated"),
        pytest.param("/v1/decisions", b'{"customer": {"id": "C-1"},}', id="decisions-comma"),
        pytest.param(
            "/v1/decisions",
            b'{"customer": {"id": "C-1"}, "context": {"channel": "web"}} {}',
            id="decisions-two documents",
        ),
        pytest.param("/v1/feedback", b'{"decision_id": "d-1"', id="feedback-truncated"),
        pytest.param("/v1/feedback", b'{"decision_id": "d-1",}', id="feedback-comma"),
    ],
)
def test_a_body_that_is_not_json_is_a_400_problem(
    client: TestClient[Any], route: str, raw: bytes
) -> None:
    response = client.post(route, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 400
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"limit": "3"', id="truncated after a wrong type"),
        pytest.param(b"[1, 2", id="unclosed array"),
        pytest.param(b'{"surprise": 1, ', id="truncated after an unknown field"),
        pytest.param(b'{"limit": 3} {"limit": 4}', id="two documents, the first incomplete"),
    ],
)
def test_broken_json_is_a_400_wherever_the_first_wrong_value_is(
    client: TestClient[Any], raw: bytes
) -> None:
    response = client.post(
        "/v1/decisions", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[]", id="array"),
        pytest.param(b'"a string"', id="string"),
        pytest.param(b"3", id="number"),
        pytest.param(b"null", id="null"),
        pytest.param(b"{}", id="empty object"),
        pytest.param(b'{"customer": {"id": "C-1"}}', id="no context"),
        pytest.param(b'{"customer": [], "context": {"channel": "web"}}', id="customer array"),
    ],
)
@pytest.mark.parametrize("route", ["/v1/decisions", "/v1/feedback"])
def test_json_of_the_wrong_shape_is_a_422_problem(
    client: TestClient[Any], route: str, raw: bytes
) -> None:
    response = client.post(route, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 422
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
