"""Running the ASGI app under uvicorn, with a clean shutdown.

On SIGTERM (or SIGINT) the server stops accepting connections, lets requests in flight
finish for up to `NEXTBEST_SHUTDOWN_GRACE_S`, runs the app's shutdown (closing the
contact store) and exits 0. uvicorn's own single-process server re-raises the signal
after a graceful shutdown, which makes the exit status 143; the subclass below does not.
With several workers, uvicorn's supervisor forwards the signal to every worker and exits
normally once they are done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Generator

import uvicorn
from uvicorn.supervisors import Multiprocess

from nextbest.config import Settings

__all__ = ["run"]

_EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _GracefulServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in _EXIT_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def run(settings: Settings) -> int:
    """Serve until told to stop; the process exit status."""
    config = uvicorn.Config(
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
        timeout_graceful_shutdown=settings.shutdown_grace_s,
    )
    if settings.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return 0
    server = _GracefulServer(config)
    server.run()
    return 0 if server.started else 1
