"""Running the ASGI app under the chosen server."""

from __future__ import annotations

import uvicorn

from nextbest.config import Settings

__all__ = ["run"]


def run(settings: Settings) -> None:
    uvicorn.run(
        "nextbest.api.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
