"""The OpenAPI document's parts that Litestar cannot infer from the types: every error a
route answers (as `application/problem+json`), request examples, the serving bundle's
vocabulary, and the docs page served from a pinned package instead of a CDN."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    Example,
    OpenAPIMediaType,
    Operation,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import Body
from litestar.static_files import create_static_files_router

from nextbest import __version__
from nextbest.api.problems import (
    BUNDLE_REFUSED,
    INVALID_REQUEST,
    MALFORMED_BODY,
    PROBLEM_JSON,
)
from nextbest.api.wire import FeedbackRequest, FieldProblem, Problem
from nextbest.bundle import Bundle
from nextbest.decide import DecisionRequest

__all__ = [
    "DECISION_RESPONSES",
    "DOCS_ASSETS_PATH",
    "RELOAD_RESPONSES",
    "DecisionBody",
    "FeedbackBody",
    "ReloadOperation",
    "docs_assets",
    "openapi_config",
    "responses",
]

DOCS_PATH = "/schema"
DOCS_ASSETS_PATH = f"{DOCS_PATH}/assets"
_ABOUT_BLANK = "about:blank"


def _example(summary: str, value: Any) -> Example:
    return Example(summary=summary, value=msgspec.to_builtins(value))


def _problem(description: str, *examples: tuple[str, Problem]) -> ResponseSpec:
    return ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_JSON,
        description=description,
        generate_examples=False,
        examples=[_example(summary, problem) for summary, problem in examples] or None,
    )


def _status_problem(status: int, title: str, detail: str) -> Problem:
    return Problem(type=_ABOUT_BLANK, title=title, status=status, detail=detail)


_MALFORMED = _problem(
    "The body is not JSON: empty, not UTF-8, or broken.",
    (
        "broken JSON",
        Problem(
            type=MALFORMED_BODY,
            title="Bad Request",
            status=400,
            detail="body is not valid JSON: Input data was truncated",
        ),
    ),
)
_TOO_LARGE = _problem(
    "The body is larger than `NEXTBEST_MAX_BODY_BYTES` (64 KiB by default).",
    ("too large", _status_problem(413, "Request Entity Too Large", "Request Entity Too Large")),
)
_INVALID = _problem(
    "A field is missing, of the wrong type, out of range or unknown (the first such is "
    "named), or values are not in the serving bundle's vocabulary or a declared "
    "attribute has the wrong type (every such is named).",
    (
        "not in the vocabulary",
        Problem(
            type=INVALID_REQUEST,
            title="Invalid request",
            status=422,
            detail="context.channel: unknown value 'fax'; allowed: call_center, web",
            errors=[
                FieldProblem("context.channel", "unknown value 'fax'; allowed: call_center, web")
            ],
        ),
    ),
)
_UNAUTHORIZED = _problem(
    "No bearer token, or the wrong one.",
    (
        "no token",
        _status_problem(401, "Unauthorized", "a valid bearer token is required for /admin"),
    ),
)
_STORE_UNAVAILABLE = _problem(
    "The contact store cannot be reached; retry after `Retry-After` seconds.",
    (
        "store down",
        _status_problem(
            503, "Service Unavailable", "the contact store is unavailable; retry later"
        ),
    ),
)
_BUSY = _problem(
    "The decision waited longer than `NEXTBEST_QUEUE_DEADLINE_MS` for its turn (the worker "
    "is saturated); retry after `Retry-After` seconds, or on another replica.",
    (
        "worker busy",
        _status_problem(
            503,
            "Service Unavailable",
            "the service is busy (waited 100 ms for one of 32 decisions in flight); "
            "retry later or elsewhere",
        ),
    ),
)
_RELOAD_REFUSED = _problem(
    "The body breaks the contract (a problem naming the field), or the bundle was refused "
    f"(`type` `{BUNDLE_REFUSED}`): the document then also carries the attempt (`at`, "
    "`trigger`, `result`: `refused`, `version`: the one still serving, `path`) and every "
    "problem found in the bundle (`problems`: `file`, `field`, `problem`).",
    (
        "bundle refused",
        Problem(
            type=BUNDLE_REFUSED,
            title="Bundle refused",
            status=422,
            detail="the bundle was refused; version 2026.11.0 keeps serving: "
            "rules.yaml rules[0].when: unexpected token '>'",
        ),
    ),
)


def responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The documented error responses of a route, by status."""
    known = {
        400: _MALFORMED,
        401: _UNAUTHORIZED,
        413: _TOO_LARGE,
        422: _INVALID,
        503: _STORE_UNAVAILABLE,
    }
    return {status: known[status] for status in statuses}


DECISION_RESPONSES = {**responses(400, 413, 422), 503: _BUSY}


RELOAD_RESPONSES = {**responses(400, 401, 413), 422: _RELOAD_REFUSED}

DecisionBody = Annotated[
    DecisionRequest,
    Body(
        description="One customer in one context. `context.channel`, `context.call_reason` "
        "and `customer.lifecycle_stage` take values of the serving bundle's vocabulary; "
        "`attributes` declared by the bundle must have their declared type, others are "
        "ignored (see the document's description for this bundle's).",
        examples=[
            Example(
                summary="a complaint call after a long wait",
                value={
                    "customer": {
                        "id": "C-1001",
                        "clv": 1450.0,
                        "lifecycle_stage": "at_risk",
                        "attributes": {"tenure_months": 30, "owned_products": ["power"]},
                    },
                    "context": {
                        "channel": "call_center",
                        "call_reason": "complaint",
                        "wait_time_s": 420,
                    },
                    "limit": 3,
                    "explain": True,
                    "dry_run": True,
                },
            ),
            Example(
                summary="a web visit",
                value={
                    "customer": {"id": "C-2002", "lifecycle_stage": "growing"},
                    "context": {"channel": "web", "placement": "account_home"},
                },
            ),
        ],
    ),
]
FeedbackBody = Annotated[
    FeedbackRequest,
    Body(
        description="What happened to an offer returned by a decision.",
        examples=[
            Example(
                summary="an accepted offer",
                value={
                    "decision_id": "3f9c2a7e-5d1b-4c55-9a0e-2b6d8f1e4c3a",
                    "customer_id": "C-1001",
                    "offer_id": "retention_discount",
                    "channel": "call_center",
                    "outcome": "accepted",
                },
            )
        ],
    ),
]

_RELOAD_BODY = RequestBody(
    required=False,
    description="Optional: without a body the serving bundle's directory is reloaded.",
    content={
        "application/json": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                properties={
                    "path": Schema(
                        type=OpenAPIType.STRING,
                        min_length=1,
                        max_length=4096,
                        description="A bundle directory on the server.",
                    )
                },
                additional_properties=False,
            ),
            examples={"another version": Example(value={"path": "/srv/bundles/2026.12.0"})},
        )
    },
)


@dataclass
class ReloadOperation(Operation):
    """The reload route reads its optional body itself; this documents it."""

    def __post_init__(self) -> None:
        self.request_body = _RELOAD_BODY


def _vocabulary(bundle: Bundle) -> str:
    vocabulary = bundle.vocabulary

    def listed(values: Any) -> str:
        return ", ".join(f"`{v}`" for v in values) or "none"

    def declared(attributes: Any) -> str:
        return ", ".join(f"`{name}` ({kind})" for name, kind in attributes.items()) or "none"

    return (
        f"\n\n## The serving bundle's vocabulary\n\nAt start-up: `{bundle.name}` "
        f"{bundle.version} (`GET /v1/bundle` tells the current one).\n\n"
        f"- `context.channel`: {listed(vocabulary.channels)}\n"
        f"- `context.call_reason`: {listed(vocabulary.call_reasons)}\n"
        f"- `customer.lifecycle_stage`: {listed(vocabulary.lifecycle_stages)}\n"
        f"- `customer.attributes` declared: {declared(bundle.customer_attributes)}\n"
        f"- `context.attributes` declared: {declared(bundle.context_attributes)}\n"
    )


def _swagger_static() -> Path:
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("swagger-ui-py (a dependency of nextbest) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def docs_assets() -> Router:
    """Swagger UI's scripts and styles, from the pinned `swagger-ui-py` package."""
    return create_static_files_router(
        path=DOCS_ASSETS_PATH,
        directories=[_swagger_static()],
        include_in_schema=False,
        name="docs_assets",
    )


def openapi_config(bundle: Bundle) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="nextbest",
        version=__version__,
        description="Next-best-activity decisions: ranked, explained, capped.\n\n"
        "Every error is an RFC 9457 problem document (`application/problem+json`)."
        + _vocabulary(bundle),
        path=DOCS_PATH,
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="`NEXTBEST_ADMIN_TOKEN`, for `/admin/*`.",
                )
            }
        ),
        render_plugins=[
            SwaggerRenderPlugin(
                path=["/swagger", "/"],
                js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
                css_url=f"{DOCS_ASSETS_PATH}/swagger-ui.css",
                standalone_preset_js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-standalone-preset.js",
                favicon=f"<link rel='icon' type='image/png' "
                f"href='{DOCS_ASSETS_PATH}/favicon-32x32.png'>",
            )
        ],
    )
