"""HTTP routes: decisions, the catalogue, the bundle, health."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from nextbest import service
from nextbest.api.admin import reload_info
from nextbest.api.admission import QueueDeadlineExceededError
from nextbest.api.openapi import DECISION_RESPONSES, DecisionBody
from nextbest.api.problems import busy_detail, retry_later
from nextbest.api.reloader import BundleReloader
from nextbest.api.state import Serving
from nextbest.api.strict_body import StrictJSON
from nextbest.api.wire import BundleInfo, Health, OfferInfo, OffersPage
from nextbest.decide import DecisionRequest, DecisionResponse
from nextbest.metrics import CONTENT_TYPE_LATEST, count_shed, exposition

__all__ = ["DecisionRoutes", "HealthRoutes", "metrics"]


def _history_state(serving: Serving) -> Literal["ok", "degraded", "off"]:
    if serving.history is None:
        return "off"
    return "degraded" if serving.history.degraded else "ok"


def _serving(state: State) -> Serving:
    serving: Serving = state.serving
    return serving


class DecisionRoutes(Controller):
    path = "/v1"
    tags = ("decisions",)

    @post(
        "/decisions",
        status_code=HTTP_200_OK,
        summary="Rank next-best activities",
        dto=StrictJSON[DecisionRequest],
        return_dto=None,
        responses=DECISION_RESPONSES,
    )
    async def decide(self, state: State, data: DecisionBody) -> DecisionResponse:
        """Rank the catalogue's activities for one customer in one context."""
        serving = _serving(state)
        try:
            async with serving.admission.slot():
                decision = await service.decide(
                    serving.decider, serving.gate, data, serving.history
                )
        except QueueDeadlineExceededError as exc:
            count_shed()
            raise retry_later(busy_detail(str(exc))) from exc
        return decision.response

    @get("/offers", summary="The activity catalogue")
    async def offers(self, state: State) -> OffersPage:
        bundle = _serving(state).decider.bundle
        return OffersPage(
            bundle_version=bundle.version,
            offers=[
                OfferInfo(
                    id=o.id,
                    name=o.name,
                    category=o.category,
                    channels=sorted(o.channels),
                    value=o.value,
                    lever=o.lever,
                    product=o.product,
                    tags=list(o.tags),
                    treatment=dict(o.treatment),
                )
                for o in bundle.offers
            ],
        )

    @get("/bundle", summary="The serving bundle and the last reload attempt")
    async def bundle(self, state: State) -> BundleInfo:
        bundle = _serving(state).decider.bundle
        reloader: BundleReloader = state.reloader
        attempt = reloader.last_attempt
        return BundleInfo(
            name=bundle.name,
            version=bundle.version,
            description=bundle.description,
            loaded_at=bundle.loaded_at,
            checksums=dict(bundle.checksums),
            offers=len(bundle.offers),
            rules=len(bundle.rules),
            models=[m.id for m in bundle.models],
            policies=[p.id for p in bundle.policies.specs],
            last_reload=reload_info(attempt, with_path=False) if attempt else None,
            experiments={e.id: [a.id for a in e.arms] for e in bundle.experiments.all},
        )


class HealthRoutes(Controller):
    path = "/health"
    tags = ("health",)

    @get("/live", summary="The process answers")
    async def live(self) -> Health:
        return Health(status="ok")

    @get(
        "/ready",
        summary="A bundle is loaded and decisions can be served",
        responses={
            HTTP_503_SERVICE_UNAVAILABLE: ResponseSpec(
                Health, description="Start-up has not finished.", generate_examples=False
            )
        },
    )
    async def ready(self, state: State) -> Response[Health]:
        """503 until start-up has finished; then 200, with `contact_store` `degraded` while
        the store cannot be reached (decisions are answered in the degraded mode)."""
        serving = _serving(state)
        if not serving.started:
            return Response(Health(status="starting"), status_code=HTTP_503_SERVICE_UNAVAILABLE)
        reachable = await serving.gate.reachable()
        return Response(
            Health(
                status="ready",
                bundle_version=serving.decider.bundle.version,
                contact_store="ok" if reachable else "degraded",
                history=_history_state(serving),
            )
        )


@get(
    "/metrics",
    summary="Prometheus metrics",
    tags=["operations"],
    sync_to_thread=False,
    media_type=MediaType.TEXT,
    response_description="The Prometheus text exposition format (version 0.0.4).",
)
def metrics() -> Response[bytes]:
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
