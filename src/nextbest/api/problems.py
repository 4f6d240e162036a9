"""RFC 9457 problem details for every error the API returns: the field and the problem."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import ExceptionHandlersMap

from nextbest.api.strict_body import MalformedBodyError
from nextbest.api.wire import FieldProblem, Problem, ReloadRefused
from nextbest.errors import InvalidRequestError
from nextbest.validation import field_of

__all__ = [
    "BUNDLE_REFUSED",
    "EXCEPTION_HANDLERS",
    "INVALID_REQUEST",
    "MALFORMED_BODY",
    "PROBLEM_JSON",
    "RETRY_AFTER_S",
    "BundleRefusedError",
    "busy_detail",
    "busy_problem",
    "retry_later",
    "unexpected_problem",
]

PROBLEM_JSON = "application/problem+json"
INVALID_REQUEST = "urn:nextbest:problem:invalid-request"
"""A body that decodes but breaks the contract or the bundle's vocabulary (422)."""
BUNDLE_REFUSED = "urn:nextbest:problem:bundle-refused"
"""A bundle reload that failed its checks; the old bundle keeps serving (422)."""
MALFORMED_BODY = "urn:nextbest:problem:malformed-body"
"""A body that is not JSON: empty, not UTF-8, or broken (400)."""
_log = structlog.get_logger("nextbest.api")


class BundleRefusedError(Exception):
    """A reload whose bundle failed its checks; answered with `refused` (422)."""

    def __init__(self, refused: ReloadRefused) -> None:
        self.refused = refused
        super().__init__(refused.detail)


RETRY_AFTER_S = 1


def retry_later(detail: str) -> HTTPException:
    """A 503 the client should retry after `Retry-After` seconds (or on another replica)."""
    return HTTPException(
        status_code=HTTP_503_SERVICE_UNAVAILABLE,
        detail=detail,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def busy_detail(reason: str) -> str:
    return f"the service is busy ({reason}); retry later or elsewhere"


def busy_problem(reason: str) -> tuple[Problem, dict[str, str]]:
    """The 503 for a decision refused by admission, as `retry_later` answers it: the
    document and its headers."""
    status = HTTP_503_SERVICE_UNAVAILABLE
    problem = Problem(
        type="about:blank",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=busy_detail(reason),
        errors=[],
    )
    return problem, {"Retry-After": str(RETRY_AFTER_S)}


def unexpected_problem(path: str, exc: Exception) -> tuple[Problem, dict[str, str]]:
    """Logs the error; the 500 document (no headers)."""
    _log.error("unhandled_error", path=path, exc_info=exc)
    problem = Problem(
        type="about:blank",
        title="Internal Server Error",
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        detail="the service failed to answer; the error is logged",
        errors=[],
    )
    return problem, {}


def _problem(
    status: int,
    title: str,
    detail: str,
    errors: list[FieldProblem],
    headers: dict[str, str] | None = None,
    kind: str = "about:blank",
) -> Response[Problem]:
    return Response(
        Problem(type=kind, title=title, status=status, detail=detail, errors=errors),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _key(error: dict[str, Any]) -> str:
    key = str(error.get("key", ""))
    return "" if key == "data" else key


def _malformed(detail: str) -> Response[Problem]:
    return _problem(HTTP_400_BAD_REQUEST, "Bad Request", detail, [], kind=MALFORMED_BODY)


def _invalid_fields(errors: list[FieldProblem]) -> Response[Problem]:
    detail = "; ".join(f"{e.field}: {e.problem}" for e in errors)
    return _problem(
        HTTP_422_UNPROCESSABLE_ENTITY, "Invalid request", detail, errors, kind=INVALID_REQUEST
    )


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    messages = [e for e in extra if isinstance(e, dict) and "message" in e]
    if any(e.get("key") == "data" for e in messages):
        # Litestar passes no body to a route that requires one: an empty body.
        return _malformed("body is not valid JSON: it is empty; a JSON object is required")
    errors = [
        FieldProblem(field_of(_key(e), str(e["message"])) or "body", str(e["message"]))
        for e in messages
    ]
    if not errors:
        return _malformed(str(exc.detail))
    return _invalid_fields(errors)


def _invalid(_: Request[Any, Any, Any], exc: InvalidRequestError) -> Response[Problem]:
    return _invalid_fields([FieldProblem(field, problem) for field, problem in exc.problems])


def _malformed_body(_: Request[Any, Any, Any], exc: MalformedBodyError) -> Response[Problem]:
    return _malformed(exc.detail)


def _bundle_refused(_: Request[Any, Any, Any], exc: BundleRefusedError) -> Response[ReloadRefused]:
    return Response(exc.refused, status_code=exc.refused.status, media_type=PROBLEM_JSON)


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    return _problem(
        exc.status_code,
        HTTPStatus(exc.status_code).phrase,
        str(exc.detail),
        [],
        dict(exc.headers) if exc.headers else None,
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    problem, _ = unexpected_problem(request.url.path, exc)
    return Response(problem, status_code=problem.status, media_type=PROBLEM_JSON)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    MalformedBodyError: _malformed_body,
    BundleRefusedError: _bundle_refused,
    ValidationException: _validation,
    InvalidRequestError: _invalid,
    HTTPException: _http,
    Exception: _unexpected,
}
