"""`nextbest serve` as a user runs it: a real process, real HTTP on a loopback port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import decision_request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "nextbest.cli", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NEXTBEST_LOG_FORMAT": "json", **(env or {})},
    )


def _wait_ready(base: str, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited early: {process.communicate()[1]}")
        try:
            with urllib.request.urlopen(f"{base}/health/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    pytest.fail("server did not become ready")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    process = _serve("--host", "127.0.0.1", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        yield base, process
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)


@pytest.mark.slow
def test_served_decision_over_real_http(server: tuple[str, subprocess.Popen[str]]) -> None:
    base, _ = server
    body = decision_request(call_reason="move_house", stage="loyal", clv=1500.0)
    request = urllib.request.Request(
        f"{base}/v1/decisions",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        answer = json.loads(response.read())
    assert response.status == 200
    assert len(answer["offers"]) == 3
    assert answer["offers"][0]["category"] == "cross_sell"


@pytest.mark.slow
def test_bad_request_over_real_http_is_a_problem_document(
    server: tuple[str, subprocess.Popen[str]],
) -> None:
    base, _ = server
    request = urllib.request.Request(
        f"{base}/v1/decisions",
        data=b'{"customer": {}, "context": {"channel": "call_center"}}',
        headers={"content-type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 422
    problem = json.loads(caught.value.read())
    assert problem["errors"][0]["field"] == "customer.id"


@pytest.mark.slow
def test_a_bad_bundle_stops_start_up_naming_file_and_field(bundle_copy: Path) -> None:
    offers = bundle_copy / "offers.yaml"
    offers.write_text(offers.read_text().replace("category: upsell", "category: upsale", 1))
    process = _serve("--port", str(_free_port()), "--bundle", str(bundle_copy))
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "offers.yaml: offers[0].category" in stderr
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_a_bad_setting_stops_start_up_naming_the_variable() -> None:
    process = _serve(env={"NEXTBEST_PORT": "eighty"})
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "NEXTBEST_PORT" in stderr
