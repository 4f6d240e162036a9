"""RFC 9457 problem details for every error the API returns: the field and the problem."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
)
from litestar.types import ExceptionHandlersMap

from nextbest.errors import InvalidRequestError
from nextbest.validation import field_of

__all__ = ["EXCEPTION_HANDLERS", "FieldProblem", "Problem"]

PROBLEM_JSON = "application/problem+json"
_log = structlog.get_logger("nextbest.api")


class FieldProblem(msgspec.Struct, frozen=True):
    field: str
    problem: str


class Problem(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    title: str
    status: int
    detail: str
    type: str = "about:blank"
    errors: list[FieldProblem] = []


def _problem(
    status: int,
    title: str,
    detail: str,
    errors: list[FieldProblem],
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    return Response(
        Problem(title=title, status=status, detail=detail, errors=errors),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _key(error: dict[str, Any]) -> str:
    key = str(error.get("key", ""))
    return "" if key == "data" else key


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = [
        FieldProblem(field_of(_key(e), str(e["message"])) or "body", str(e["message"]))
        for e in extra
        if isinstance(e, dict) and "message" in e
    ]
    if not errors:
        return _problem(HTTP_400_BAD_REQUEST, "Bad Request", str(exc.detail), [])
    detail = "; ".join(f"{e.field}: {e.problem}" for e in errors)
    return _problem(HTTP_422_UNPROCESSABLE_ENTITY, "Invalid request", detail, errors)


def _invalid(_: Request[Any, Any, Any], exc: InvalidRequestError) -> Response[Problem]:
    return _problem(
        HTTP_422_UNPROCESSABLE_ENTITY,
        "Invalid request",
        str(exc),
        [FieldProblem(exc.field, exc.problem)],
    )


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    return _problem(
        exc.status_code,
        HTTPStatus(exc.status_code).phrase,
        str(exc.detail),
        [],
        dict(exc.headers) if exc.headers else None,
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    _log.error("unhandled_error", path=request.url.path, exc_info=exc)
    return _problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        "the service failed to answer; the error is logged",
        [],
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ValidationException: _validation,
    InvalidRequestError: _invalid,
    HTTPException: _http,
    Exception: _unexpected,
}
