"""`occurred_at` on feedback: a back-off starts when the event happened, not when it
arrived, and an event time in the future counts as now. The gate's clock is injected,
so that "14 days later" is a number, not a wait."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import TestClient

from helpers import decision_request
from nextbest.api.app import create_app
from nextbest.decide import Decider
from nextbest.pressure import ContactStore
from nextbest.pressure.gate import PressureGate

DAY_MS = 86_400_000
BACKOFF_MS = 14 * DAY_MS
"""The demo bundle's `no_repeat_after_decline`."""
BACKOFF = "cap:no_repeat_after_decline"
SCOPE_PAUSE = "cap:sales_pause_after_3_declines"
WEB = {"channel": "web", "stage": "loyal", "clv": 2000.0}


class Clock:
    """The gate's clock, in ms since the epoch; starts a little ahead of the wall clock
    (Redis keys get TTLs measured from this clock, see lua/*.lua)."""

    def __init__(self) -> None:
        self.now_ms = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(decider: Decider, contact_store: ContactStore, clock: Clock) -> Iterator[TestClient[Any]]:
    gate = PressureGate(contact_store, budget_s=1.0, clock_ms=clock)
    with TestClient(create_app(decider, gate=gate)) as client:
        yield client


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _reasons(api: TestClient[Any], customer: str) -> dict[str, str | None]:
    """Every offer's outcome for a dry-run decision: None when selected, else the reason."""
    body = decision_request(customer_id=customer, limit=25, explain=True, **WEB)
    response = api.post("/v1/decisions", json=body)
    assert response.status_code == 200, response.text
    return {c["offer_id"]: c["reason"] for c in response.json()["explanation"]["candidates"]}


def _top_offer(api: TestClient[Any], customer: str) -> str:
    body = decision_request(customer_id=customer, limit=1, **WEB)
    offers = api.post("/v1/decisions", json=body).json()["offers"]
    offer: str = offers[0]["offer_id"]
    return offer


def _decline(api: TestClient[Any], customer: str, offer: str, **extra: Any) -> None:
    response = api.post(
        "/v1/feedback",
        json={
            "decision_id": f"d-{customer}-{len(extra)}-{extra.get('event_id', '')}",
            "customer_id": customer,
            "offer_id": offer,
            "channel": "web",
            "outcome": "declined",
            **extra,
        },
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "recorded"


def _backed_off_until(api: TestClient[Any], clock: Clock, customer: str, offer: str) -> None:
    """The offer is held back by the back-off up to `clock.now_ms` (exclusive) and free
    from then on; leaves the clock there."""
    clock.now_ms -= 1
    assert _reasons(api, customer)[offer] == BACKOFF
    clock.now_ms += 1
    assert _reasons(api, customer)[offer] != BACKOFF


def test_without_occurred_at_the_back_off_starts_on_arrival(
    api: TestClient[Any], clock: Clock
) -> None:
    offer = _top_offer(api, "C-now")
    arrival = clock.now_ms
    _decline(api, "C-now", offer)
    clock.now_ms = arrival + BACKOFF_MS
    _backed_off_until(api, clock, "C-now", offer)


@pytest.mark.parametrize("days_ago", [1, 10])
def test_a_decline_that_happened_earlier_starts_the_back_off_then(
    api: TestClient[Any], clock: Clock, days_ago: int
) -> None:
    offer = _top_offer(api, "C-past")
    occurred = clock.now_ms - days_ago * DAY_MS
    _decline(api, "C-past", offer, occurred_at=_iso(occurred))
    assert _reasons(api, "C-past")[offer] == BACKOFF
    clock.now_ms = occurred + BACKOFF_MS
    _backed_off_until(api, clock, "C-past", offer)


def test_a_decline_older_than_the_back_off_holds_nothing_back(
    api: TestClient[Any], clock: Clock
) -> None:
    offer = _top_offer(api, "C-old")
    _decline(api, "C-old", offer, occurred_at=_iso(clock.now_ms - BACKOFF_MS - DAY_MS))
    assert _reasons(api, "C-old")[offer] is None


def test_a_naive_occurred_at_is_utc(api: TestClient[Any], clock: Clock) -> None:
    offer = _top_offer(api, "C-naive")
    occurred = clock.now_ms - 3 * DAY_MS
    naive = datetime.fromtimestamp(occurred / 1000, tz=UTC).replace(tzinfo=None).isoformat()
    _decline(api, "C-naive", offer, occurred_at=naive)
    clock.now_ms = occurred + BACKOFF_MS
    _backed_off_until(api, clock, "C-naive", offer)


@pytest.mark.parametrize("days_ahead", [1, 30])
def test_a_decline_in_the_future_counts_as_now(
    api: TestClient[Any], clock: Clock, days_ahead: int
) -> None:
    offer = _top_offer(api, "C-future")
    arrival = clock.now_ms
    _decline(api, "C-future", offer, occurred_at=_iso(arrival + days_ahead * DAY_MS))
    clock.now_ms = arrival + BACKOFF_MS
    _backed_off_until(api, clock, "C-future", offer)


def test_declines_that_fell_out_of_the_window_do_not_add_up_to_a_pause(
    api: TestClient[Any], clock: Clock
) -> None:
    """Three declines pause sales only within 30 days of each other (by when they
    happened): one 31 days old plus two recent ones pause nothing; a third recent one does."""
    offers = ["green_tariff_upgrade", "fixed_price_guarantee", "smart_meter", "gas_supply"]
    now = clock.now_ms
    _decline(api, "C-window", offers[0], occurred_at=_iso(now - 31 * DAY_MS), event_id="e1")
    _decline(api, "C-window", offers[1], occurred_at=_iso(now - 2 * DAY_MS), event_id="e2")
    _decline(api, "C-window", offers[2], event_id="e3")
    assert SCOPE_PAUSE not in _reasons(api, "C-window").values()
    _decline(api, "C-window", offers[3], occurred_at=_iso(now - DAY_MS), event_id="e4")
    assert SCOPE_PAUSE in _reasons(api, "C-window").values()
