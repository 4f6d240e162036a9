"""Processes the benchmarks start and own: a redis-server and a nextbest server.

Both listen on a free loopback port, write their output to a file (a pipe nobody reads
fills up and blocks the server) and are stopped, by their own process id, on the way out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import redis

__all__ = ["RunningServer", "free_port", "nextbest_server", "redis_server"]

_SERVERS = ("uvicorn", "granian")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server on a free loopback port (no persistence); its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with tempfile.TemporaryDirectory(prefix="nextbest-bench-redis-") as workdir:
        process = subprocess.Popen(
            [
                binary,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", workdir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            with redis.Redis.from_url(url, socket_timeout=0.5) as client:
                while True:
                    try:
                        client.ping()
                        break
                    except redis.ConnectionError:
                        if time.monotonic() > deadline or process.poll() is not None:
                            raise
                        time.sleep(0.05)
            yield url
        finally:
            _stop(process)


@dataclass(frozen=True)
class RunningServer:
    base: str
    """e.g. http://127.0.0.1:39211"""
    host: str
    port: int
    pid: int
    log: Path


def _command(server: str, port: int, workers: int) -> list[str]:
    if server == "uvicorn":
        return [sys.executable, "-m", "nextbest.cli", "serve", "--port", str(port)]
    # granian has no place in `nextbest serve`; it runs the same app factory with the
    # settings of server.py (uvloop, no access log) so that the two can be compared.
    binary = Path(sys.executable).with_name("granian")
    if not binary.exists():
        raise SystemExit(f"granian is not installed: {sys.executable} -m pip install granian")
    return [
        str(binary),
        "--interface", "asgi",
        "--http", "1",
        "--factory",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", str(workers),
        "--loop", "uvloop",
        "--no-access-log",
        "--log-level", "warning",
        "nextbest.api.app:create_app_from_env",
    ]  # fmt: skip


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited early (status {process.returncode}); see {log}")
        try:
            with urllib.request.urlopen(f"{base}/health/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise SystemExit(f"the server did not become ready within {timeout:.0f} s; see {log}")


@contextlib.contextmanager
def nextbest_server(
    *,
    workers: int,
    log_dir: Path,
    server: str = "uvicorn",
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 60.0,
) -> Iterator[RunningServer]:
    """The service in a child process on a free loopback port, ready to answer; its log
    (JSON lines) goes to a file in `log_dir`. Stopped with SIGTERM on the way out."""
    if server not in _SERVERS:
        raise ValueError(f"unknown server {server!r}; one of {', '.join(_SERVERS)}")
    port = free_port()
    environment = {
        **os.environ,
        "NEXTBEST_PORT": str(port),
        "NEXTBEST_WORKERS": str(workers),
        "NEXTBEST_LOG_FORMAT": "json",
        **(env or {}),
    }
    metrics_dir = None
    if server == "granian" and workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in environment:
        metrics_dir = tempfile.TemporaryDirectory(prefix="nextbest-metrics-")
        environment["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir.name
    log = log_dir / f"server-{server}-w{workers}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _command(server, port, workers), stdout=out, stderr=out, env=environment
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process, log, ready_timeout)
        yield RunningServer(base=base, host="127.0.0.1", port=port, pid=process.pid, log=log)
    finally:
        _stop(process)
        if metrics_dir is not None:
            metrics_dir.cleanup()
