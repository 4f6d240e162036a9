"""`/admin/*`: operator routes behind a bearer token.

Registered only when `NEXTBEST_ADMIN_TOKEN` is set (otherwise they do not exist: 404).
The token is compared in constant time.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import msgspec
from litestar import Controller, Request, Response, Router, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.status_codes import HTTP_200_OK, HTTP_422_UNPROCESSABLE_ENTITY
from litestar.types import Guard

from nextbest.api.reloader import BundleReloader, ReloadAttempt
from nextbest.api.strict_body import decode_strict
from nextbest.api.wire import ReloadInfo, ReloadProblemInfo, ReloadRequest

__all__ = ["admin_router", "bearer_guard", "reload_info"]

_RELOAD_REQUEST = msgspec.json.Decoder(ReloadRequest)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="nextbest-admin"'}


def bearer_guard(token: str) -> Guard:
    expected = f"Bearer {token}".encode()

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        given = connection.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise NotAuthorizedException(
                "a valid bearer token is required for /admin", headers=_CHALLENGE
            )

    return guard


def reload_info(attempt: ReloadAttempt, *, with_path: bool) -> ReloadInfo:
    return ReloadInfo(
        at=attempt.at,
        trigger=attempt.trigger,
        result=attempt.result,
        version=attempt.version,
        path=attempt.path if with_path else None,
        problems=[ReloadProblemInfo(p.file, p.field, p.problem) for p in attempt.problems],
    )


class AdminRoutes(Controller):
    tags = ("admin",)

    @post(
        "/bundle/reload",
        summary="Load a new bundle version, or refuse it and keep serving the old one",
    )
    async def reload(self, state: State, request: Request[Any, Any, Any]) -> Response[ReloadInfo]:
        """Body (optional): `{"path": "/srv/bundles/v42"}`. 200 with the new version once it
        serves; 422 with the problems otherwise."""
        data = decode_strict(_RELOAD_REQUEST, await request.body() or b"{}")
        reloader: BundleReloader = state.reloader
        attempt = await reloader.reload(Path(data.path) if data.path else None)
        return Response(
            reload_info(attempt, with_path=True),
            status_code=HTTP_200_OK
            if attempt.result == "loaded"
            else HTTP_422_UNPROCESSABLE_ENTITY,
        )


def admin_router(token: str) -> Router:
    return Router(path="/admin", route_handlers=[AdminRoutes], guards=[bearer_guard(token)])
