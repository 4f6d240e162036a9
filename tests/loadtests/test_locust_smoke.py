"""The Locust profiles run headless against a real server and stop by themselves.

Locust runs as a child process and is never imported here (gevent monkey-patching).
Locust comes with the `load` extra, which `dev` includes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _servers import nextbest_server

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "locustfile.py"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_dir = tmp_path_factory.mktemp("locust-smoke")
    with nextbest_server(log_dir=log_dir, env={"NEXTBEST_LOG_LEVEL": "warning"}) as running:
        yield running.base


def _locust(base: str, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    finished = subprocess.run(
        [
            sys.executable, "-m", "locust",
            "-f", str(LOCUSTFILE),
            "--headless", "--host", base,
            "--users", "10", "--spawn-rate", "10",
            "--run-time", "60s",
            "--time-scale", "0.005",
            "--seed", "1",
            "--only-summary", "--json",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    return finished, time.monotonic() - started


def test_mixed_profile_stops_after_max_requests_without_failures(base: str) -> None:
    finished, elapsed = _locust(base, "--max-requests", "150")
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert elapsed < 45, "it ran until --run-time instead of stopping at --max-requests"
    stats = {entry["name"]: entry for entry in json.loads(finished.stdout)}
    assert sum(e["num_requests"] for e in stats.values()) >= 150
    assert sum(e["num_failures"] for e in stats.values()) == 0
    assert "/v1/decisions [call_center]" in stats
    assert "/v1/decisions [web]" in stats
    assert any(name.startswith("/v1/feedback [") for name in stats)


def test_dry_run_profile_sends_no_feedback(base: str) -> None:
    finished, _ = _locust(base, "--max-requests", "60", "--dry-run", "WebShopVisitor")
    assert finished.returncode == 0, finished.stderr[-3000:]
    names = {entry["name"] for entry in json.loads(finished.stdout)}
    assert names == {"/v1/decisions [web]"}
