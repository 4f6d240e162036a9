"""Running the ASGI app under uvicorn, with a clean shutdown.

On SIGTERM (or SIGINT) the server stops accepting connections, lets requests in flight
finish for up to `NEXTBEST_SHUTDOWN_GRACE_S`, runs the app's shutdown (closing the
contact store) and exits 0. uvicorn's own single-process server re-raises the signal
after a graceful shutdown, which makes the exit status 143; the subclass below does not.
With several workers, uvicorn's supervisor forwards the signal to every worker and exits
normally once they are done; the workers share a metrics directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Generator

import uvicorn
from uvicorn.supervisors import Multiprocess

from nextbest.config import Settings, SettingsError

__all__ = ["run"]

_EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


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


@contextlib.contextmanager
def _shared_metrics_dir() -> Generator[None, None, None]:
    """Workers write their metrics to one directory, so that a scrape of any worker
    reports them all (prometheus_client's multiprocess mode)."""
    if os.environ.get(_METRICS_DIR):
        yield
        return
    try:
        workspace = tempfile.TemporaryDirectory(prefix="nextbest-metrics-")
    except OSError as exc:  # a read-only root file system without a writable TMPDIR
        raise SettingsError(
            "NEXTBEST_WORKERS",
            "several workers share their metrics in a temporary directory, and none can be "
            f"created ({exc}); give the process a writable TMPDIR, or set {_METRICS_DIR}",
        ) from exc
    with workspace as directory:
        os.environ[_METRICS_DIR] = directory
        try:
            yield
        finally:
            del os.environ[_METRICS_DIR]


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
        with _shared_metrics_dir():
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        return 0
    server = _GracefulServer(config)
    server.run()
    return 0 if server.started else 1
