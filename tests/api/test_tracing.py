"""A span per HTTP request, continuing the caller's traceparent, with its ids in the logs
(the `otel` extra; spans to an in-memory exporter, no collector)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from litestar.testing import TestClient
from structlog.testing import capture_logs

from helpers import decision_request
from nextbest.api.app import create_app
from nextbest.config import Settings
from nextbest.decide import Decider
from nextbest.log_context import merge_log_context

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
    with capture_logs(processors=[merge_log_context]) as logs:
        answer = traced.post("/v1/decisions", json=decision_request(), headers=headers)
    assert answer.is_success
    assert len(answer.headers["x-request-id"]) == 32
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
    with capture_logs(processors=[merge_log_context]) as logs:
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


def test_otlp_export_is_on_only_with_an_endpoint() -> None:
    assert Settings.from_env({}).otel_endpoint is None
    standard = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert Settings.from_env(standard).otel_endpoint == "http://collector:4318"
    ours = {**standard, "NEXTBEST_OTEL_ENDPOINT": "http://other:4318"}
    assert Settings.from_env(ours).otel_endpoint == "http://other:4318"


def test_with_an_endpoint_the_spans_are_posted_to_the_collector(decider: Decider) -> None:
    received: list[tuple[str, str]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            received.append((self.path, self.headers["content-type"]))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    collector = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
        settings = Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
        with TestClient(create_app(decider, settings)) as client:
            assert client.post("/v1/decisions", json=decision_request()).is_success
        # leaving the app shut the provider down, which flushed the batch
    finally:
        collector.shutdown()
        collector.server_close()
    assert received == [("/v1/traces", "application/x-protobuf")]
