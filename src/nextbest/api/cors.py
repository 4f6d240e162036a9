"""CORS for browser clients (web shops, agent desktops), from `NEXTBEST_CORS_ORIGINS`."""

from __future__ import annotations

from litestar.config.cors import CORSConfig

from nextbest.api.request_id import REQUEST_ID_HEADER

__all__ = ["actual_request_headers", "cors_config"]

PREFLIGHT_CACHE_S = 600


def cors_config(origins: str) -> CORSConfig | None:
    """Litestar's CORS for the comma-separated `origins`; None (no CORS headers, a browser
    on another origin is refused) when empty."""
    allowed = [o.strip() for o in origins.split(",") if o.strip()]
    if not allowed:
        return None
    return CORSConfig(
        allow_origins=allowed,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["content-type", "authorization", REQUEST_ID_HEADER, "traceparent"],
        expose_headers=[REQUEST_ID_HEADER, "retry-after"],
        max_age=PREFLIGHT_CACHE_S,
    )


def actual_request_headers(
    config: CORSConfig, origin: str, has_cookie: bool
) -> tuple[tuple[bytes, bytes], ...]:
    """The CORS headers of the answer to a request (not a preflight) from `origin`, as
    Litestar's CORS middleware adds them (the decision path answers without it)."""
    headers = dict(config.simple_headers)
    allow_all = config.is_allow_all_origins
    if (allow_all and has_cookie) or (not allow_all and config.is_origin_allowed(origin)):
        headers["Access-Control-Allow-Origin"] = origin
        headers["Vary"] = "Origin"
    headers["Access-Control-Allow-Headers"] = ", ".join(sorted(set(config.allow_headers)))
    headers["Access-Control-Allow-Methods"] = ", ".join(sorted(set(config.allow_methods)))
    return tuple(
        (name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()
    )
