from __future__ import annotations

from typing import Any

from litestar.testing import TestClient
from structlog.testing import capture_logs

from helpers import decision_request


def test_one_log_line_per_decision_with_ids_and_stage_times(client: TestClient[Any]) -> None:
    with capture_logs() as logs:
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
