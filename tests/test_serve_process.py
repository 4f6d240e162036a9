"""`nextbest serve` as a user runs it: a real process, real HTTP on a loopback port."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from _servers import nextbest_server

from helpers import StartServer, decision_request


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a server that runs for this module's tests."""
    log_dir = tmp_path_factory.mktemp("serve")
    with nextbest_server(log_dir=log_dir, args=("--host", "127.0.0.1")) as running:
        yield running.base


@pytest.mark.slow
def test_served_decision_over_real_http(server: str) -> None:
    base = server
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
def test_bad_request_over_real_http_is_a_problem_document(server: str) -> None:
    base = server
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
def test_a_bad_bundle_stops_start_up_naming_file_and_field(
    bundle_copy: Path, start_server: StartServer
) -> None:
    offers = bundle_copy / "offers.yaml"
    offers.write_text(offers.read_text().replace("category: upsell", "category: upsale", 1))
    server = start_server("--bundle", str(bundle_copy), ready=False)
    assert server.process.wait(timeout=30) == 2
    assert "offers.yaml: offers[0].category" in server.output()
    assert "Traceback" not in server.output()


@pytest.mark.slow
def test_a_bad_setting_stops_start_up_naming_the_variable(start_server: StartServer) -> None:
    server = start_server(env={"NEXTBEST_PORT": "eighty"}, ready=False)
    assert server.process.wait(timeout=30) == 2
    assert "NEXTBEST_PORT" in server.output()


@pytest.mark.slow
def test_every_line_a_json_server_writes_is_json(tmp_path: Path) -> None:
    """A log collector reading a JSON-configured server gets nothing else (the start-up
    line included; onnxruntime's telemetry warning is gone with its telemetry)."""
    home = tmp_path / "not-a-directory"  # as in the container: no HOME to write in
    home.write_text("")
    with nextbest_server(log_dir=tmp_path, env={"HOME": str(home)}) as running:
        output = running.output()
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines
    assert [line for line in lines if not line.startswith("{")] == []
    [serving] = [e for e in map(json.loads, lines) if e["event"] == "serving"]
    assert serving["bundle"] == "demo-energy"
    assert serving["url"] == running.base
