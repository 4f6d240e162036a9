"""OpenTelemetry spans, one per HTTP request, exported over OTLP (the `otel` extra).

On only when a collector is named (`NEXTBEST_OTEL_ENDPOINT` or the standard
`OTEL_EXPORTER_OTLP_ENDPOINT`), or a tracer provider is handed to the app, as the tests
do; the exporter reads the other `OTEL_*` variables (headers, timeouts) itself. A span
continues the caller's W3C `traceparent`, is named after the route template, and its
trace and span ids are bound to the request's log lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from nextbest.log_context import bind_log_context, reset_log_context

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer, TracerProvider

__all__ = ["TracingMiddleware", "otlp_tracer_provider"]

_TRACER = "nextbest"


def otlp_tracer_provider(endpoint: str, service_version: str) -> TracerProvider:
    """A provider that batches spans to the OTLP/HTTP collector at `endpoint`."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set: install nextbest[otel] to export spans"
        ) from exc
    resource = Resource.create({"service.name": "nextbest", "service.version": service_version})
    provider = SdkTracerProvider(resource=resource)
    exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _carrier(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope["headers"]
        if name in (b"traceparent", b"tracestate")
    }


class TracingMiddleware:
    """A server span around each HTTP request."""

    __slots__ = ("_tracer", "app")

    def __init__(self, app: ASGIApp, provider: TracerProvider) -> None:
        self.app = app
        self._tracer: Tracer = provider.get_tracer(_TRACER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        from opentelemetry.trace import SpanKind, Status, StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        parent = TraceContextTextMapPropagator().extract(_carrier(scope))
        method = scope["method"]
        with self._tracer.start_as_current_span(
            method, context=parent, kind=SpanKind.SERVER, record_exception=True
        ) as span:
            context = span.get_span_context()
            token = bind_log_context(
                trace_id=f"{context.trace_id:032x}", span_id=f"{context.span_id:016x}"
            )
            span.set_attribute("http.request.method", method)
            span.set_attribute("url.path", scope["path"])

            async def send_noting_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            try:
                await self.app(scope, receive, send_noting_status)
            finally:
                reset_log_context(token)
                route = scope.get("path_template")
                if route:
                    span.set_attribute("http.route", route)
                    span.update_name(f"{method} {route}")
