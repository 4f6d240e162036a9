"""`/admin/*`: operator routes behind a bearer token.

Registered only when `NEXTBEST_ADMIN_TOKEN` is set (otherwise they do not exist: 404).
The token is compared in constant time.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import msgspec
from litestar import Controller, Request, Router, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.status_codes import HTTP_200_OK, HTTP_422_UNPROCESSABLE_ENTITY
from litestar.types import Guard

from nextbest.api.openapi import RELOAD_RESPONSES, ReloadOperation
from nextbest.api.problems import BUNDLE_REFUSED, BundleRefusedError
from nextbest.api.reloader import BundleReloader, ReloadAttempt
from nextbest.api.strict_body import decode_strict
from nextbest.api.wire import ReloadInfo, ReloadProblemInfo, ReloadRefused, ReloadRequest

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
        status_code=HTTP_200_OK,
        responses=RELOAD_RESPONSES,
        operation_class=ReloadOperation,
        security=[{"bearer": []}],
    )
    async def reload(self, state: State, request: Request[Any, Any, Any]) -> ReloadInfo:
        """Body (optional): `{"path": "/srv/bundles/v42"}`. 200 with the new version once it
        serves; 422 with the problems otherwise."""
        data = decode_strict(_RELOAD_REQUEST, await request.body() or b"{}")
        reloader: BundleReloader = state.reloader
        attempt = await reloader.reload(Path(data.path) if data.path else None)
        info = reload_info(attempt, with_path=True)
        if attempt.result == "refused":
            raise BundleRefusedError(_refused(info))
        return info


def _refused(info: ReloadInfo) -> ReloadRefused:
    return ReloadRefused(
        type=BUNDLE_REFUSED,
        title="Bundle refused",
        status=HTTP_422_UNPROCESSABLE_ENTITY,
        detail=f"the bundle was refused; version {info.version} keeps serving: "
        + "; ".join(
            f"{p.file}{f' {p.field}' if p.field else ''}: {p.problem}" for p in info.problems
        ),
        at=info.at,
        trigger=info.trigger,
        result="refused",
        version=info.version,
        path=info.path,
        problems=info.problems,
    )


def admin_router(token: str) -> Router:
    return Router(path="/admin", route_handlers=[AdminRoutes], guards=[bearer_guard(token)])
