"""Records for the history tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nextbest.history.records import DecisionRecord, OfferShown

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def decision(n: int, at: datetime = T0) -> DecisionRecord:
    return DecisionRecord(
        decision_id=f"d{n}",
        at=at + timedelta(milliseconds=n),
        bundle_name="demo",
        bundle_version="1",
        customer_id=f"C-{n}",
        channel="web",
        fields={"customer.clv": 100.0 + n, "context.channel": "web"},
        offers=[
            OfferShown(
                offer_id="green_tariff",
                rank=1,
                category="upsell",
                propensity=0.1,
                priority=2.0,
                value=20.0,
            )
        ],
    )
