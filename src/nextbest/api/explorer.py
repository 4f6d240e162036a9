"""`/ui`: the decision explorer, a page served by the service itself (no CDN).

For marketers checking a rule change and agents asking "why this offer": a form built
from the serving bundle's vocabulary and declared attributes, a dry-run decision with
its explanation drawn as bars, every dropped offer with its reason (a rule's condition,
a cap's policy), the raw JSON and the catalogue. The page's own data comes from
`GET /ui/bundle.json`; decisions, the catalogue and the bundle's version from the API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec
from litestar import Response, Router, get
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.static_files import create_static_files_router

from nextbest.api.state import Serving
from nextbest.bundle import Bundle

__all__ = ["ExplorerBundle", "explorer_router"]

STATIC = Path(__file__).parent / "static" / "explorer"
_INDEX = STATIC / "index.html"


class ExplorerRule(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    action: Literal["drop", "require", "pin", "boost"]
    when: str
    factor: float
    description: str


class ExplorerPolicy(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    description: str
    terms: str
    """The policy as written: `limit 3 per 7d`, `after declined pause 14d`, its scope."""


class ExplorerBundle(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    version: str
    channels: list[str]
    call_reasons: list[str]
    lifecycle_stages: list[str]
    customer_attributes: dict[str, str]
    context_attributes: dict[str, str]
    rules: list[ExplorerRule]
    policies: list[ExplorerPolicy]


def _terms(spec: msgspec.Struct) -> str:
    written = msgspec.to_builtins(spec)
    scope = written.pop("scope", {})
    written.pop("id", None)
    written.pop("description", None)
    parts = [f"{key} {_text(value)}" for key, value in written.items() if value not in _NONE]
    parts += [f"{key}: {_text(value)}" for key, value in scope.items() if value not in _NONE]
    return ", ".join(parts)


_NONE: tuple[object, ...] = (None, [], "")


def _text(value: object) -> str:
    return " or ".join(map(str, value)) if isinstance(value, list) else str(value)


def explorer_bundle(bundle: Bundle) -> ExplorerBundle:
    vocabulary = bundle.vocabulary
    return ExplorerBundle(
        name=bundle.name,
        version=bundle.version,
        channels=list(vocabulary.channels),
        call_reasons=list(vocabulary.call_reasons),
        lifecycle_stages=list(vocabulary.lifecycle_stages),
        customer_attributes=dict(bundle.customer_attributes),
        context_attributes=dict(bundle.context_attributes),
        rules=[
            ExplorerRule(
                id=r.id,
                action=r.action,
                when=r.expression.source,
                factor=r.factor,
                description=r.description,
            )
            for r in bundle.rules
        ],
        policies=[
            ExplorerPolicy(id=p.id, description=p.description, terms=_terms(p))
            for p in bundle.policies.specs
        ],
    )


@get("/", include_in_schema=False, sync_to_thread=False, media_type=MediaType.HTML)
def page() -> Response[bytes]:
    return Response(_INDEX.read_bytes(), media_type=MediaType.HTML)


@get("/bundle.json", include_in_schema=False, sync_to_thread=False)
def bundle_json(state: State) -> ExplorerBundle:
    serving: Serving = state.serving
    return explorer_bundle(serving.decider.bundle)


def explorer_router() -> Router:
    assets = create_static_files_router(
        path="/assets", directories=[STATIC], include_in_schema=False, name="explorer_assets"
    )
    return Router(path="/ui", route_handlers=[page, bundle_json, assets])
