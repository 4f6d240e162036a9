"""`nextbest serve` as a user runs it: a real process, real HTTP on a loopback port."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import decision_request, free_port, serve, wait_ready


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = serve("--host", "127.0.0.1", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
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
    process = serve("--port", str(free_port()), "--bundle", str(bundle_copy))
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "offers.yaml: offers[0].category" in stderr
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_a_bad_setting_stops_start_up_naming_the_variable() -> None:
    process = serve(env={"NEXTBEST_PORT": "eighty"})
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "NEXTBEST_PORT" in stderr
