"""The field's expectations, through real HTTP on the demo bundle with its real ONNX model."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from helpers import decision_request
from nextbest.bundle import Bundle

SALES = {"upsell", "cross_sell"}


def decide(client: TestClient[Any], **kwargs: Any) -> dict[str, Any]:
    response = client.post("/v1/decisions", json=decision_request(**kwargs))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_complaint_after_long_wait_gets_service_recovery_and_no_sales(
    client: TestClient[Any],
) -> None:
    body = decide(
        client,
        call_reason="complaint",
        wait_time_s=420,
        stage="loyal",
        clv=2400.0,
        limit=5,
        explain=True,
    )
    offers = body["offers"]
    assert offers, "a complaining caller still gets a service activity"
    assert offers[0]["category"] == "service"
    assert offers[0]["offer_id"] in {"goodwill_credit", "complaint_resolution_callback"}
    assert not [o for o in offers if o["category"] in SALES]
    dropped = {
        c["offer_id"]: c["reason"]
        for c in body["explanation"]["candidates"]
        if c["category"] in SALES
    }
    assert dropped
    assert all(reason and reason.startswith("rule:") for reason in dropped.values())


def test_long_wait_alone_puts_service_recovery_first(client: TestClient[Any]) -> None:
    body = decide(client, call_reason="tariff_change", wait_time_s=420, stage="loyal", clv=900.0)
    assert body["offers"][0]["offer_id"] in {"goodwill_credit", "complaint_resolution_callback"}
    assert not [o for o in body["offers"] if o["category"] in SALES]


def test_loyal_mover_gets_cross_sell(client: TestClient[Any]) -> None:
    body = decide(
        client,
        call_reason="move_house",
        wait_time_s=60,
        stage="loyal",
        clv=1200.0,
        customer_attributes={"tenure_months": 40, "owned_products": ["electricity"]},
    )
    assert body["offers"][0]["category"] == "cross_sell"


def test_at_risk_high_value_caller_gets_retention(client: TestClient[Any]) -> None:
    body = decide(
        client,
        call_reason="billing_question",
        wait_time_s=30,
        stage="at_risk",
        clv=3200.0,
        customer_attributes={"churn_score": 0.8, "tenure_months": 30},
    )
    assert body["offers"][0]["category"] == "retention"


def test_retention_is_withheld_from_low_value_customers_not_at_risk(
    client: TestClient[Any],
) -> None:
    body = decide(
        client, call_reason="billing_question", stage="growing", clv=400.0, limit=25, explain=True
    )
    retention = [c for c in body["explanation"]["candidates"] if c["category"] == "retention"]
    assert retention
    assert all(c["outcome"] == "dropped" for c in retention)
    assert {c["reason"] for c in retention} <= {
        "rule:retention_for_risk_or_value",
        "rule:winback_only_for_lapsed",
        "channel",
    }


@pytest.mark.parametrize("channel", ["call_center", "web"])
@pytest.mark.parametrize("call_reason", ["move_house", "tariff_change", "meter_reading", None])
def test_owned_products_are_never_offered(
    client: TestClient[Any], demo_bundle: Bundle, channel: str, call_reason: str | None
) -> None:
    owned = [o.product for o in demo_bundle.offers if o.product and o.category != "service"]
    owned = owned[::2]
    body = decide(
        client,
        channel=channel,
        call_reason=call_reason,
        stage="loyal",
        clv=2000.0,
        customer_attributes={"owned_products": owned},
        limit=25,
        explain=True,
    )
    product_of = {o.id: o.product for o in demo_bundle.offers}
    assert not [o for o in body["offers"] if product_of[o["offer_id"]] in owned]
    for candidate in body["explanation"]["candidates"]:
        if product_of[candidate["offer_id"]] in owned and candidate["reason"] != "channel":
            assert candidate["reason"] == "rule:not_already_owned"


def test_explanation_accounts_for_every_catalogue_activity(
    client: TestClient[Any], demo_bundle: Bundle
) -> None:
    body = decide(client, call_reason="move_house", stage="loyal", clv=1500.0, explain=True)
    candidates = body["explanation"]["candidates"]
    assert [c["offer_id"] for c in candidates] == [o.id for o in demo_bundle.offers]
    selected = sorted(
        (c for c in candidates if c["outcome"] == "selected"), key=lambda c: c["rank"]
    )
    assert [c["offer_id"] for c in selected] == [o["offer_id"] for o in body["offers"]]
    for c in candidates:
        if c["outcome"] == "dropped":
            assert c["reason"] in ("rank", "channel") or c["reason"].startswith(("rule:", "cap:"))
        assert 0.0 <= c["propensity"] <= 1.0
        assert c["priority"] == pytest.approx(
            c["propensity"] * c["context_weight"] * c["value"] * c["lever"] * c["boost"],
            rel=1e-4,
            abs=1e-6,
        )
    ranked = [c for c in candidates if c["reason"] == "rank"]
    if ranked:
        assert max(c["priority"] for c in ranked) <= min(c["priority"] for c in selected)


def test_web_gets_only_web_activities(client: TestClient[Any], demo_bundle: Bundle) -> None:
    web = {o.id for o in demo_bundle.offers if "web" in o.channels}
    body = decide(client, channel="web", call_reason=None, stage="new", limit=25)
    assert body["offers"]
    assert {o["offer_id"] for o in body["offers"]} <= web


def test_same_request_same_ranking(client: TestClient[Any]) -> None:
    first = decide(client, call_reason="tariff_change", stage="loyal", clv=800.0, limit=5)
    second = decide(client, call_reason="tariff_change", stage="loyal", clv=800.0, limit=5)
    assert first["offers"] == second["offers"]
    assert first["decision_id"] != second["decision_id"]


@pytest.mark.parametrize("limit", [1, 2, 7])
def test_limit_caps_the_answer(client: TestClient[Any], limit: int) -> None:
    body = decide(
        client, call_reason="move_house", stage="loyal", clv=1500.0, limit=limit, explain=True
    )
    candidates = body["explanation"]["candidates"]
    allowed = [c for c in candidates if c["reason"] is None or c["reason"] == "rank"]
    assert len(body["offers"]) == min(limit, len(allowed))
    assert len(body["offers"]) >= min(limit, 2)
    assert [o["rank"] for o in body["offers"]] == list(range(1, len(body["offers"]) + 1))


def test_response_names_bundle_customer_and_channel(
    client: TestClient[Any], demo_bundle: Bundle
) -> None:
    body = decide(client, customer_id="C-77", channel="web")
    assert body["bundle_version"] == demo_bundle.version
    assert body["customer_id"] == "C-77"
    assert body["channel"] == "web"
    assert body["degraded"] == []
    assert body["explanation"] is None


def test_a_null_attribute_is_a_missing_value(client: TestClient[Any]) -> None:
    given = {"churn_score": 0.8, "tenure_months": 30}
    with_null = decide(
        client, call_reason="complaint", customer_attributes={**given, "owned_products": None}
    )
    without = decide(client, call_reason="complaint", customer_attributes=given)
    assert [o["offer_id"] for o in with_null["offers"]] == [
        o["offer_id"] for o in without["offers"]
    ]
    assert [o["propensity"] for o in with_null["offers"]] == [
        o["propensity"] for o in without["offers"]
    ]
