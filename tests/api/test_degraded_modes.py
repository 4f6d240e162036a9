"""What a decision returns when the contact store cannot answer, in each degraded mode
(`NEXTBEST_DEGRADED_MODE`), per channel, and that the answer says it is degraded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from helpers import decision_request, free_port, wait_until
from nextbest.api.app import create_app
from nextbest.config import Settings
from nextbest.decide import Decider, DecisionRequest
from redis_server import RedisServer

SALES = {"upsell", "cross_sell", "retention"}
WEB = decision_request(customer_id="C-deg-web", channel="web", stage="loyal", clv=2000.0)
PHONE = decision_request(
    customer_id="C-deg-phone", channel="call_center", call_reason="move_house", clv=1500.0
)


def _unreachable(degraded_mode: str) -> Settings:
    """Settings naming a Redis on a loopback port where nothing listens."""
    return Settings.from_env(
        {
            "NEXTBEST_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "NEXTBEST_REDIS_BUDGET_MS": "50",
            "NEXTBEST_DEGRADED_MODE": degraded_mode,
        }
    )


def _ranking(decider: Decider, body: dict[str, Any]) -> list[str]:
    """The offers the bundle ranks for `body` before contact pressure."""
    request = msgspec.convert(body, DecisionRequest)
    return [o.offer_id for o in decider.decide(request).response.offers]


def _decide(client: TestClient[Any], body: dict[str, Any], *, record: bool = True) -> Any:
    response = client.post("/v1/decisions", json={**body, "dry_run": not record, "explain": True})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def app(decider: Decider, request: pytest.FixtureRequest) -> Iterator[TestClient[Any]]:
    """An app whose contact store is unreachable, in the degraded mode of the parameter."""
    with TestClient(create_app(decider, _unreachable(request.param))) as client:
        yield client


def _assert_fail_closed(decider: Decider, body: dict[str, Any], answer: Any) -> None:
    ranked = _ranking(decider, {**body, "limit": 25})
    assert answer["degraded"] == ["contact_pressure"]
    categories = {o["offer_id"]: o["category"] for o in answer["explanation"]["candidates"]}
    service_in_rank_order = [o for o in ranked if categories[o] == "service"]
    assert [o["offer_id"] for o in answer["offers"]] == service_in_rank_order[: body["limit"]]
    withheld = {
        c["offer_id"]
        for c in answer["explanation"]["candidates"]
        if c["reason"] == "degraded:contact_pressure"
    }
    assert withheld == {o for o in ranked if categories[o] in SALES}


def _assert_fail_open(decider: Decider, body: dict[str, Any], answer: Any) -> None:
    assert answer["degraded"] == ["contact_pressure"]
    assert [o["offer_id"] for o in answer["offers"]] == _ranking(decider, body)
    assert any(o["category"] in SALES for o in answer["offers"])
    reasons = {c["reason"] for c in answer["explanation"]["candidates"]}
    assert "degraded:contact_pressure" not in reasons


@pytest.mark.parametrize("app", ["fail_closed"], indirect=True)
def test_fail_closed_withholds_every_capped_offer_and_returns_the_rest(
    decider: Decider, app: TestClient[Any]
) -> None:
    for body in (WEB, PHONE):
        _assert_fail_closed(decider, body, _decide(app, body))


@pytest.mark.parametrize("app", ["fail_open"], indirect=True)
def test_fail_open_returns_the_ranking_unchecked(decider: Decider, app: TestClient[Any]) -> None:
    for body in (WEB, PHONE):
        # many decisions in a row: nothing is recorded, so nothing is capped either
        for _ in range(5):
            _assert_fail_open(decider, body, _decide(app, body))


@pytest.mark.parametrize(
    "app",
    ["call_center=fail_closed,web=fail_open", "fail_open,call_center=fail_closed"],
    indirect=True,
)
def test_each_channel_degrades_in_its_own_mode(decider: Decider, app: TestClient[Any]) -> None:
    _assert_fail_open(decider, WEB, _decide(app, WEB))
    _assert_fail_closed(decider, PHONE, _decide(app, PHONE))


@pytest.mark.parametrize("app", ["web=fail_open"], indirect=True)
def test_a_channel_not_named_takes_the_default_fail_closed(
    decider: Decider, app: TestClient[Any]
) -> None:
    _assert_fail_open(decider, WEB, _decide(app, WEB))
    _assert_fail_closed(decider, PHONE, _decide(app, PHONE))


@pytest.mark.parametrize("app", ["fail_open"], indirect=True)
def test_a_decision_that_needs_no_check_is_not_degraded(
    decider: Decider, app: TestClient[Any]
) -> None:
    """A complaint on the phone leaves only service offers, which no cap concerns."""
    body = decision_request(customer_id="C-deg-svc", channel="call_center", call_reason="complaint")
    answer = _decide(app, body)
    assert answer["degraded"] == []
    assert {o["category"] for o in answer["offers"]} == {"service"}


def test_a_redis_that_goes_away_degrades_per_channel_and_recovers(
    decider: Decider, redis_server: RedisServer
) -> None:
    settings = Settings.from_env(
        {
            "NEXTBEST_REDIS_URL": redis_server.url,
            "NEXTBEST_REDIS_BUDGET_MS": "200",
            "NEXTBEST_DEGRADED_MODE": "call_center=fail_closed,web=fail_open",
        }
    )
    with TestClient(create_app(decider, settings)) as client:
        for body in (WEB, PHONE):
            answer = _decide(client, body, record=False)
            assert answer["degraded"] == []
            assert any(o["category"] in SALES for o in answer["offers"])
        redis_server.stop()
        try:
            _assert_fail_open(decider, WEB, _decide(client, WEB))
            _assert_fail_closed(decider, PHONE, _decide(client, PHONE))
        finally:
            redis_server.start()
        answer = wait_until(lambda: _decide(client, WEB, record=False), lambda a: not a["degraded"])
        assert any(o["category"] in SALES for o in answer["offers"])
