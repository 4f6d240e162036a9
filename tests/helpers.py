"""Request builders and server processes shared by the tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest

DEMO_BUNDLE = Path(__file__).resolve().parents[1] / "models" / "demo-energy"

EditYaml = Callable[[str, Callable[[Any], Any]], None]
"""Change one YAML file of a bundle copy and re-seal it (the `edit_yaml` fixture)."""


def decision_request(
    *,
    customer_id: str = "C-1001",
    channel: str = "call_center",
    call_reason: str | None = None,
    wait_time_s: float | None = None,
    stage: str | None = None,
    clv: float | None = None,
    customer_attributes: dict[str, Any] | None = None,
    limit: int = 3,
    explain: bool = False,
) -> dict[str, Any]:
    customer: dict[str, Any] = {"id": customer_id}
    if clv is not None:
        customer["clv"] = clv
    if stage is not None:
        customer["lifecycle_stage"] = stage
    if customer_attributes is not None:
        customer["attributes"] = customer_attributes
    context: dict[str, Any] = {"channel": channel}
    if call_reason is not None:
        context["call_reason"] = call_reason
    if wait_time_s is not None:
        context["wait_time_s"] = wait_time_s
    return {
        "customer": customer,
        "context": context,
        "limit": limit,
        "explain": explain,
        "dry_run": True,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve(
    *args: str, env: dict[str, str] | None = None, log: IO[str] | None = None
) -> subprocess.Popen[str]:
    """`nextbest serve` in a child process. Its output goes to pipes that the caller reads
    with `communicate()`, or, for a server that logs a lot while it runs, to `log` (a pipe
    nobody drains fills up and then blocks the server)."""
    return subprocess.Popen(
        [sys.executable, "-m", "nextbest.cli", "serve", *args],
        stdout=log or subprocess.PIPE,
        stderr=log or subprocess.PIPE,
        text=True,
        env={**os.environ, "NEXTBEST_LOG_FORMAT": "json", **(env or {})},
    )


def wait_ready(base: str, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.communicate()[1]
            pytest.fail(f"server exited early: {stderr or 'see its log file'}")
        try:
            with urllib.request.urlopen(f"{base}/health/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    pytest.fail("server did not become ready")


T = TypeVar("T")


def wait_until(
    probe: Callable[[], T],
    done: Callable[[T], bool] = bool,
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "the condition",
) -> T:
    """Call `probe` until `done` holds for its value (which is returned), or fail after
    `timeout` seconds: waiting on the observable state, not on a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not hold within {timeout:.0f} s; last value: {value!r}")
        time.sleep(interval)
