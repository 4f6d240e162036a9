"""The Litestar application factory."""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.types import ControllerRouterHandler

from nextbest import __version__
from nextbest.api.feedback import FeedbackRoutes
from nextbest.api.floor import floor
from nextbest.api.problems import EXCEPTION_HANDLERS
from nextbest.api.routes import DecisionRoutes, HealthRoutes
from nextbest.api.state import Serving
from nextbest.bundle import load_bundle
from nextbest.config import Settings
from nextbest.decide import Decider
from nextbest.logging import configure_logging
from nextbest.pressure.factory import open_gate
from nextbest.pressure.gate import PressureGate

__all__ = ["create_app", "create_app_from_env"]


def create_app(
    decider: Decider, settings: Settings | None = None, gate: PressureGate | None = None
) -> Litestar:
    """An app serving `decider`'s bundle; contact pressure through `gate` (default: the
    store the settings name). The app closes the gate's store on shutdown."""
    settings = settings or Settings()
    serving = Serving(decider, gate or open_gate(settings))

    async def close_store() -> None:
        await serving.gate.aclose()

    routes: list[ControllerRouterHandler] = [DecisionRoutes, FeedbackRoutes, HealthRoutes]
    if settings.bench_floor:
        routes.append(floor)
    return Litestar(
        route_handlers=routes,
        state=State({"serving": serving}),
        on_shutdown=[close_store],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="nextbest",
            version=__version__,
            description="Next-best-activity decisions: ranked, explained, capped.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin()],
        ),
        logging_config=None,
        debug=False,
    )


def create_app_from_env() -> Litestar:
    """Factory for the ASGI server: settings from the environment, bundle loaded now."""
    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(Decider(load_bundle(settings.bundle)), settings)
