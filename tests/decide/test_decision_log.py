from __future__ import annotations

from typing import Any

from litestar.testing import TestClient
from structlog.testing import capture_logs

from helpers import decision_request, free_port
from nextbest.api.app import create_app
from nextbest.decide import Decider
from nextbest.log_context import merge_log_context
from nextbest.pressure.gate import PressureGate
from nextbest.pressure.redis import RedisContactStore


def test_one_log_line_per_decision_with_ids_and_stage_times(client: TestClient[Any]) -> None:
    with capture_logs(processors=[merge_log_context]) as logs:
        body = client.post(
            "/v1/decisions", json=decision_request(customer_id="C-9", call_reason="move_house")
        ).json()
    decisions = [e for e in logs if e["event"] == "decision"]
    assert len(decisions) == 1
    line = decisions[0]
    assert line["decision_id"] == body["decision_id"]
    assert line["bundle_version"] == body["bundle_version"]
    assert line["customer_id"] == "C-9"
    assert line["channel"] == "call_center"
    assert line["offers"] == [o["offer_id"] for o in body["offers"]]
    for stage in ("rules_us", "scoring_us", "arbitration_us"):
        assert isinstance(line[stage], int)
        assert line[stage] >= 0


def test_every_line_of_a_degraded_decision_carries_its_ids(decider: Decider) -> None:
    store = RedisContactStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.05)
    request = decision_request(customer_id="C-10", channel="web", stage="loyal", clv=900.0)
    with (
        TestClient(create_app(decider, gate=PressureGate(store))) as client,
        capture_logs(processors=[merge_log_context]) as logs,
    ):
        body = client.post("/v1/decisions", json=request).json()
    lines = [e for e in logs if e["event"] in {"contact_store_failed", "decision_degraded"}]
    assert {e["event"] for e in lines} == {"contact_store_failed", "decision_degraded"}
    for line in lines:
        assert line["decision_id"] == body["decision_id"]
        assert line["customer_id"] == "C-10"
        assert line["bundle_version"] == body["bundle_version"]
