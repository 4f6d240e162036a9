"""X-Request-ID echoed (or generated) and bound, with the traceparent's ids, to every log
line of the request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from structlog.testing import capture_logs

from helpers import decision_request
from nextbest.api.request_id import trace_context
from nextbest.log_context import merge_log_context

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    """Log lines as the service writes them: with the request's context merged in."""
    with capture_logs(processors=[merge_log_context]) as captured:
        yield captured


def test_a_given_request_id_is_echoed(client: TestClient[Any]) -> None:
    response = client.post(
        "/v1/decisions", json=decision_request(), headers={"X-Request-ID": "desk-42.7"}
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "desk-42.7"


def test_a_request_id_is_generated_when_none_is_given(client: TestClient[Any]) -> None:
    first = client.get("/v1/offers").headers["x-request-id"]
    second = client.get("/v1/offers").headers["x-request-id"]
    assert len(first) == 32
    assert first != second


@pytest.mark.parametrize("given", ["", "a b", "x" * 129, "tab\there", "ünïcode"])
def test_an_unusable_request_id_is_replaced(client: TestClient[Any], given: str) -> None:
    response = client.get("/v1/offers", headers={"X-Request-ID": given.encode()})
    assert response.headers["x-request-id"] != given
    assert len(response.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/nothing", 404), ("GET", "/v1/decisions", 405), ("GET", "/metrics", 200)],
)
def test_every_answer_carries_the_id(
    client: TestClient[Any], method: str, path: str, status: int
) -> None:
    response = client.request(method, path, headers={"X-Request-ID": "r-1"})
    assert response.status_code == status
    assert response.headers["x-request-id"] == "r-1"


def test_an_error_answer_carries_the_id(client: TestClient[Any]) -> None:
    response = client.post("/v1/decisions", content=b"{", headers={"X-Request-ID": "r-400"})
    assert response.status_code == 400
    assert response.headers["x-request-id"] == "r-400"


def test_the_decision_log_line_carries_request_and_trace_ids(
    client: TestClient[Any], logs: list[dict[str, Any]]
) -> None:
    headers = {"X-Request-ID": "desk-7", "traceparent": TRACEPARENT}
    body = client.post("/v1/decisions", json=decision_request(), headers=headers).json()
    [line] = [e for e in logs if e["event"] == "decision"]
    assert line["decision_id"] == body["decision_id"]
    assert line["request_id"] == "desk-7"
    assert line["trace_id"] == TRACE_ID
    assert line["parent_span_id"] == PARENT_ID


def test_the_ids_do_not_leak_into_the_next_request(
    client: TestClient[Any], logs: list[dict[str, Any]]
) -> None:
    headers = {"X-Request-ID": "first", "traceparent": TRACEPARENT}
    client.post("/v1/decisions", json=decision_request(), headers=headers)
    second = client.post("/v1/decisions", json=decision_request())
    first_line, second_line = [e for e in logs if e["event"] == "decision"]
    assert first_line["request_id"] == "first"
    assert second_line["request_id"] == second.headers["x-request-id"]
    assert "trace_id" not in second_line


def test_a_feedback_log_line_carries_the_request_id(
    client: TestClient[Any], logs: list[dict[str, Any]]
) -> None:
    decision = client.post("/v1/decisions", json=decision_request()).json()
    offer = decision["offers"][0]["offer_id"]
    feedback = {
        "decision_id": decision["decision_id"],
        "customer_id": "C-1001",
        "offer_id": offer,
        "channel": "call_center",
        "outcome": "presented",
    }
    response = client.post("/v1/feedback", json=feedback, headers={"X-Request-ID": "fb-1"})
    assert response.status_code == 202
    [line] = [e for e in logs if e["event"] == "feedback"]
    assert line["request_id"] == "fb-1"


@pytest.mark.parametrize(
    "header",
    [
        f"ff-{TRACE_ID}-{PARENT_ID}-01",
        f"00-{'0' * 32}-{PARENT_ID}-01",
        f"00-{TRACE_ID}-{'0' * 16}-01",
        f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",
        f"00-{TRACE_ID}-{PARENT_ID}-01-extra",
        f"00-{TRACE_ID[:-1]}-{PARENT_ID}-01",
        "garbage",
    ],
)
def test_an_invalid_traceparent_is_ignored(header: str) -> None:
    assert trace_context(header.encode()) is None


def test_a_later_traceparent_version_may_carry_more() -> None:
    context = trace_context(f"01-{TRACE_ID}-{PARENT_ID}-01-more".encode())
    assert context is not None
    assert context.trace_id == TRACE_ID


def test_an_invalid_traceparent_leaves_no_trace_id(
    client: TestClient[Any], logs: list[dict[str, Any]]
) -> None:
    client.post("/v1/decisions", json=decision_request(), headers={"traceparent": "garbage"})
    [line] = [e for e in logs if e["event"] == "decision"]
    assert "trace_id" not in line
    assert "request_id" in line
