"""A span per HTTP request, continuing the caller's traceparent, with its ids in the logs
(the `otel` extra; spans to an in-memory exporter, no collector)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from litestar.testing import TestClient
from structlog.testing import capture_logs

from helpers import decision_request
from nextbest.api.app import create_app
from nextbest.config import Settings
from nextbest.decide import Decider

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="module")
def traced(decider: Decider, exporter: InMemorySpanExporter) -> Iterator[TestClient[Any]]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with TestClient(create_app(decider, tracer_provider=provider)) as client:
        yield client
    provider.shutdown()


def test_a_decision_is_a_server_span_continuing_the_callers_trace(
    traced: TestClient[Any], exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        assert traced.post("/v1/decisions", json=decision_request(), headers=headers).is_success
    [span] = exporter.get_finished_spans()
    assert span.name == "POST /v1/decisions"
    assert span.kind == SpanKind.SERVER
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == PARENT_ID
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/v1/decisions"
    assert span.attributes["http.response.status_code"] == 200
    [line] = [e for e in logs if e["event"] == "decision"]
    assert line["trace_id"] == TRACE_ID
    assert line["span_id"] == f"{span.context.span_id:016x}"


def test_without_a_traceparent_a_new_trace_starts_and_reaches_the_logs(
    traced: TestClient[Any], exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        traced.post("/v1/decisions", json=decision_request())
    [span] = exporter.get_finished_spans()
    assert span.parent is None
    [line] = [e for e in logs if e["event"] == "decision"]
    assert line["trace_id"] == f"{span.context.trace_id:032x}"


def test_refusals_and_unknown_routes_are_spans_too(
    traced: TestClient[Any], exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    traced.post("/v1/decisions", content=b"{")
    traced.get("/v1/nowhere")
    bad, missing = exporter.get_finished_spans()
    assert bad.attributes is not None
    assert bad.attributes["http.response.status_code"] == 400
    assert missing.name == "GET"
    assert missing.status.status_code != StatusCode.ERROR


def test_otlp_export_is_on_only_with_the_endpoint_variable() -> None:
    assert Settings.from_env({}).otel_endpoint is None
    endpoint = "http://collector:4318"
    assert Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}).otel_endpoint == endpoint


def test_with_the_endpoint_the_app_exports_over_otlp(decider: Decider) -> None:
    from helpers import free_port
    from nextbest.api.tracing import TracingMiddleware

    endpoint = f"http://127.0.0.1:{free_port()}"
    app = create_app(decider, Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}))
    assert isinstance(app.asgi_handler.app, TracingMiddleware)  # type: ignore[attr-defined]
    with TestClient(app):  # starts and, on the way out, shuts the exporter down
        pass
