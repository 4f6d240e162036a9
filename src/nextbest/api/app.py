"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import structlog
from litestar import Litestar
from litestar.datastructures import State
from litestar.types import ASGIApp, ControllerRouterHandler

from nextbest import __version__
from nextbest.api.admin import admin_router
from nextbest.api.admission import Admission
from nextbest.api.cors import cors_config
from nextbest.api.decision_path import DecisionPath
from nextbest.api.explorer import explorer_router
from nextbest.api.feedback import FeedbackRoutes
from nextbest.api.floor import floor
from nextbest.api.http_metrics import HttpMetrics, HttpMetricsMiddleware
from nextbest.api.openapi import docs_assets, openapi_config
from nextbest.api.problems import EXCEPTION_HANDLERS
from nextbest.api.reloader import BundleReloader
from nextbest.api.request_id import RequestIdMiddleware
from nextbest.api.routes import DecisionRoutes, HealthRoutes, metrics
from nextbest.api.state import Serving
from nextbest.api.tracing import TracingMiddleware, otlp_tracer_provider
from nextbest.bundle import load_bundle
from nextbest.config import Settings
from nextbest.decide.decider import Decider
from nextbest.history.factory import field_filter, open_history
from nextbest.history.recorder import HistoryRecorder
from nextbest.logging import configure_logging
from nextbest.metric_batches import flush_all
from nextbest.metrics import set_bundle
from nextbest.pressure.factory import open_gate
from nextbest.pressure.gate import PressureGate

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

__all__ = ["create_app", "create_app_from_env"]

_log = structlog.get_logger("nextbest.app")

STARTUP_STORE_WAIT_S = 2.0


def _freeze_startup_objects() -> None:
    """Leave everything loaded at start-up (modules, the app, the bundle, its sessions)
    out of the garbage collector's full passes: they live as long as the process, and
    walking them made every full pass a 10-60 ms pause in the middle of decisions."""
    gc.collect()
    gc.freeze()


def create_app(
    decider: Decider,
    settings: Settings | None = None,
    gate: PressureGate | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Litestar:
    """An app serving `decider`'s bundle; contact pressure through `gate` (default: the
    store the settings name); a span per request to `tracer_provider` (default: OTLP when
    the settings name an endpoint, else none). On start-up the app readies the store (and
    watches the bundle if asked); on shutdown it stops watching and closes the store."""
    settings = settings or Settings()
    owned_provider = (
        otlp_tracer_provider(settings.otel_endpoint, __version__)
        if tracer_provider is None and settings.otel_endpoint
        else None
    )
    tracer_provider = tracer_provider or owned_provider
    writer = open_history(settings)
    serving = Serving(
        decider,
        gate or open_gate(settings),
        HistoryRecorder(writer, field_filter(settings)) if writer is not None else None,
        admission=Admission(settings.max_in_flight, settings.queue_deadline_ms / 1000),
    )
    reloader = BundleReloader(serving, decider.bundle.path)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        """The store, the bundle watcher and readiness live as long as the app."""
        await serving.gate.reachable(prepare=True, timeout_s=STARTUP_STORE_WAIT_S)
        if writer is not None:
            await writer.start()
        stop_watching = asyncio.Event()
        watcher = (
            asyncio.create_task(reloader.watch(settings.watch_quiet_ms, stop_watching))
            if settings.watch_bundle
            else None
        )
        _freeze_startup_objects()
        serving.started = True
        try:
            yield
        finally:
            stop_watching.set()
            if watcher is not None:
                await watcher
            if writer is not None:
                await writer.aclose()
                _log.info("history_closed", written=writer.written, dropped=writer.dropped)
            await serving.gate.aclose()
            _log.info("contact_store_closed")
            flush_all()  # the metrics noted since the last batch (the files outlive a worker)
            if owned_provider is not None:
                owned_provider.shutdown()  # type: ignore[attr-defined]  # the SDK's, flushes

    set_bundle(decider.bundle.name, decider.bundle.version)
    routes: list[ControllerRouterHandler] = [
        DecisionRoutes,
        FeedbackRoutes,
        HealthRoutes,
        metrics,
        docs_assets(),
        explorer_router(),
    ]
    if settings.admin_token:
        routes.append(admin_router(settings.admin_token))
    if settings.bench_floor:
        routes.append(floor)
    cors = cors_config(settings.cors_origins)
    app = Litestar(
        route_handlers=routes,
        state=State({"serving": serving, "reloader": reloader}),
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(decider.bundle),
        logging_config=None,
        cors_config=cors,
        debug=False,
    )
    http_metrics = HttpMetrics(serving.gate.breakers, serving.gate.releaser)
    if tracer_provider is None:
        behind = RequestIdMiddleware(HttpMetricsMiddleware(app.asgi_handler, http_metrics))
        app.asgi_handler = DecisionPath(
            behind, serving, settings.max_body_bytes, cors, http_metrics=http_metrics
        )
    else:
        handler: ASGIApp = DecisionPath(app.asgi_handler, serving, settings.max_body_bytes, cors)
        handler = HttpMetricsMiddleware(handler, http_metrics)
        handler = TracingMiddleware(handler, tracer_provider)
        app.asgi_handler = RequestIdMiddleware(handler)
    return app


def create_app_from_env() -> Litestar:
    """Factory for the ASGI server: settings from the environment, bundle loaded now."""
    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(Decider(load_bundle(settings.bundle)), settings)
