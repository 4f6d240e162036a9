"""CORS for browser clients (web shops, agent desktops), from `NEXTBEST_CORS_ORIGINS`."""

from __future__ import annotations

from litestar.config.cors import CORSConfig

from nextbest.api.request_id import REQUEST_ID_HEADER

__all__ = ["cors_config"]

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
