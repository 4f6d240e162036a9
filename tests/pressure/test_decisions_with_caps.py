"""Contact pressure through the HTTP API: caps, back-off, release, idempotent feedback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from helpers import decision_request
from nextbest.api.app import create_app
from nextbest.decide import Decider
from nextbest.pressure import ContactStore
from nextbest.pressure.gate import PressureGate
from nextbest.pressure.types import FeedbackEffect

DAY_MS = 86_400_000
SALES = {"upsell", "cross_sell", "retention"}


class Clock:
    def __init__(self) -> None:
        self.now_ms = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, days: float) -> None:
        self.now_ms += int(days * DAY_MS)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(decider: Decider, contact_store: ContactStore, clock: Clock) -> Iterator[TestClient[Any]]:
    gate = PressureGate(contact_store, budget_s=1.0, clock_ms=clock)
    with TestClient(create_app(decider, gate=gate)) as client:
        yield client


def decide(api: TestClient[Any], customer: str, **kwargs: Any) -> dict[str, Any]:
    dry_run = kwargs.pop("dry_run", False)
    body = decision_request(customer_id=customer, **kwargs)
    body["dry_run"] = dry_run
    response = api.post("/v1/decisions", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def sales(result: dict[str, Any]) -> list[str]:
    return [o["offer_id"] for o in result["offers"] if o["category"] in SALES]


def feedback(
    api: TestClient[Any], result: dict[str, Any], offer: str, outcome: str, **extra: Any
) -> Any:
    return api.post(
        "/v1/feedback",
        json={
            "decision_id": result["decision_id"],
            "customer_id": result["customer_id"],
            "offer_id": offer,
            "channel": result["channel"],
            "outcome": outcome,
            **extra,
        },
    )


WEB = {"channel": "web", "stage": "loyal", "clv": 2000.0, "limit": 3}


def test_three_sales_offers_per_seven_days_across_decisions(
    api: TestClient[Any], clock: Clock
) -> None:
    returned = []
    for _ in range(4):
        returned += sales(decide(api, "C-cap", **WEB))
    assert len(returned) == 3
    blocked = decide(api, "C-cap", explain=True, **WEB)
    reasons = {c["reason"] for c in blocked["explanation"]["candidates"]}
    assert "cap:sales_3_per_7_days" in reasons
    clock.advance(7.01)
    assert sales(decide(api, "C-cap", **WEB))


def test_one_sales_offer_per_day_on_the_phone(api: TestClient[Any], clock: Clock) -> None:
    phone = {"call_reason": "move_house", "stage": "loyal", "clv": 1500.0, "limit": 3}
    first = decide(api, "C-phone", **phone)
    assert len(sales(first)) == 1
    assert not sales(decide(api, "C-phone", **phone))
    clock.advance(1.01)
    assert len(sales(decide(api, "C-phone", **phone))) == 1


def test_dry_run_records_nothing(api: TestClient[Any]) -> None:
    for _ in range(5):
        assert sales(decide(api, "C-dry", dry_run=True, **WEB))
    assert len(sales(decide(api, "C-dry", **WEB))) == 3


def test_a_declined_offer_is_not_shown_again_for_14_days(
    api: TestClient[Any], clock: Clock
) -> None:
    first = decide(api, "C-decline", limit=1, channel="web", stage="loyal", clv=2000.0)
    offer = first["offers"][0]["offer_id"]
    assert feedback(api, first, offer, "declined").status_code == 202
    clock.advance(7.5)  # past the 7-day cap, inside the 14-day back-off
    again = decide(api, "C-decline", explain=True, **WEB)
    assert offer not in [o["offer_id"] for o in again["offers"]]
    reason = {c["offer_id"]: c["reason"] for c in again["explanation"]["candidates"]}
    assert reason[offer] == "cap:no_repeat_after_decline"
    clock.advance(7)
    later = decide(api, "C-decline", limit=25, channel="web", stage="loyal", clv=2000.0)
    assert offer in [o["offer_id"] for o in later["offers"]]


def test_an_accepted_offer_is_not_offered_again(api: TestClient[Any], clock: Clock) -> None:
    first = decide(api, "C-accept", limit=1, channel="web", stage="loyal", clv=2000.0)
    offer = first["offers"][0]["offer_id"]
    assert feedback(api, first, offer, "accepted").status_code == 202
    for _ in range(3):
        clock.advance(40)
        result = decide(api, "C-accept", limit=25, channel="web", stage="loyal", clv=2000.0)
        assert offer not in [o["offer_id"] for o in result["offers"]]


def test_discarded_releases_the_contact(api: TestClient[Any]) -> None:
    results = [decide(api, "C-discard", **WEB) for _ in range(2)]
    shown = [(r, o) for r in results for o in sales(r)]
    assert len(shown) == 3
    assert not sales(decide(api, "C-discard", **WEB))
    result, offer = shown[0]
    assert feedback(api, result, offer, "discarded").status_code == 202
    assert len(sales(decide(api, "C-discard", **WEB))) == 1


def test_the_same_feedback_twice_counts_once(api: TestClient[Any], clock: Clock) -> None:
    result = decide(api, "C-twice", **WEB)
    offer = sales(result)[0]
    first = feedback(api, result, offer, "discarded", event_id="evt-1")
    second = feedback(api, result, offer, "discarded", event_id="evt-1")
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["status"] == "recorded"
    assert second.json()["status"] == "duplicate"
    same_without_id = feedback(api, result, offer, "declined")
    again = feedback(api, result, offer, "declined")
    assert same_without_id.json()["status"] == "recorded"
    assert again.json()["status"] == "duplicate"


def test_three_declines_pause_sales(api: TestClient[Any], clock: Clock) -> None:
    for _ in range(3):
        result = decide(api, "C-pause", limit=1, channel="web", stage="loyal", clv=500.0)
        offer = result["offers"][0]
        assert offer["category"] in {"upsell", "cross_sell"}
        assert feedback(api, result, offer["offer_id"], "declined").status_code == 202
        clock.advance(8)
    paused = decide(api, "C-pause", explain=True, limit=25, channel="web", stage="loyal", clv=500.0)
    assert not [o for o in paused["offers"] if o["category"] in {"upsell", "cross_sell"}]
    reasons = {c["reason"] for c in paused["explanation"]["candidates"]}
    assert "cap:sales_pause_after_3_declines" in reasons


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"outcome": "maybe"}, "outcome"),
        ({"offer_id": "time_machine"}, "offer_id"),
        ({"channel": "fax"}, "channel"),
        ({"decision_id": ""}, "decision_id"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"colour": "green"}, "colour"),
    ],
)
def test_bad_feedback_names_the_field(
    api: TestClient[Any], change: dict[str, Any], field: str
) -> None:
    body = {
        "decision_id": "d1",
        "customer_id": "C-1",
        "offer_id": "gas_supply",
        "channel": "web",
        "outcome": "declined",
        **change,
    }
    response = api.post("/v1/feedback", json=body)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize("occurred_at", ["1969-12-31T23:59:59Z", "1999-12-31T23:59:59+00:00"])
def test_feedback_from_before_2000_is_refused_naming_the_field(
    api: TestClient[Any], occurred_at: str
) -> None:
    result = decide(api, "C-old", **WEB)
    response = feedback(api, result, sales(result)[0], "declined", occurred_at=occurred_at)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "occurred_at"


def test_a_first_event_is_never_a_duplicate_whatever_its_time(
    contact_store: ContactStore,
) -> None:
    """Below the API's lower bound too: the store never mistakes a new event for a seen one."""
    effect = FeedbackEffect("first-time", "d1:a", set_markers=(("no_repeat:a", DAY_MS),))

    async def scenario() -> list[bool]:
        first = await contact_store.apply_feedback("C-1", effect, -1000)
        again = await contact_store.apply_feedback("C-1", effect, -1000)
        await contact_store.aclose()
        return [first, again]

    assert asyncio.run(scenario()) == [True, False]


def test_missing_feedback_field_is_named(api: TestClient[Any]) -> None:
    response = api.post("/v1/feedback", json={"decision_id": "d1", "customer_id": "C-1"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] in {"offer_id", "channel", "outcome"}
