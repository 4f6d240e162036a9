"""Decisions and responses reach the history through the running app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from helpers import decision_request
from nextbest.api.app import create_app
from nextbest.config import Settings
from nextbest.decide import Decider
from nextbest.history.reader import HistoryReader
from nextbest.history.records import DecisionRecord, Record, ResponseRecord


def _recorded(decider: Decider, settings: Settings, run: Any) -> list[Record]:
    with TestClient(create_app(decider, settings)) as client:
        run(client)
    return list(HistoryReader(str(settings.history_dir)).records())


def _decide(client: TestClient[Any], **kwargs: Any) -> dict[str, Any]:
    body = {**decision_request(**kwargs), "dry_run": False}
    answer: dict[str, Any] = client.post("/v1/decisions", json=body).json()
    return answer


def test_every_decision_and_accepted_feedback_is_recorded_once(
    decider: Decider, tmp_path: Path
) -> None:
    answers: list[dict[str, Any]] = []

    def run(client: TestClient[Any]) -> None:
        answers.append(
            _decide(
                client,
                customer_id="C-h1",
                channel="web",
                call_reason="move_house",
                stage="loyal",
                clv=1500.0,
                customer_attributes={"tenure_months": 40, "region": "north"},
            )
        )
        client.post("/v1/decisions", json=decision_request(customer_id="C-dry"))  # dry run
        offer = answers[0]["offers"][0]["offer_id"]
        feedback = {
            "decision_id": answers[0]["decision_id"],
            "customer_id": "C-h1",
            "offer_id": offer,
            "channel": "web",
            "outcome": "accepted",
        }
        assert client.post("/v1/feedback", json=feedback).json()["status"] == "recorded"
        assert client.post("/v1/feedback", json=feedback).json()["status"] == "duplicate"

    records = _recorded(decider, Settings(history_dir=tmp_path), run)
    decisions = [r for r in records if isinstance(r, DecisionRecord)]
    responses = [r for r in records if isinstance(r, ResponseRecord)]
    assert [d.decision_id for d in decisions] == [answers[0]["decision_id"]]
    (recorded,) = decisions
    assert recorded.customer_id == "C-h1"
    assert recorded.bundle_version == answers[0]["bundle_version"]
    assert [(o.offer_id, o.rank, o.logged_propensity) for o in recorded.offers] == [
        (o["offer_id"], o["rank"], 1.0) for o in answers[0]["offers"]
    ]
    assert recorded.fields["customer.clv"] == 1500.0
    assert recorded.fields["context.call_reason"] == "move_house"
    assert recorded.fields["customer.attributes.tenure_months"] == 40
    assert "customer.id" not in recorded.fields
    assert [(r.decision_id, r.outcome) for r in responses] == [
        (answers[0]["decision_id"], "accepted")
    ]


def test_the_field_filters_keep_personal_data_out(decider: Decider, tmp_path: Path) -> None:
    def run(client: TestClient[Any]) -> None:
        _decide(client, stage="loyal", clv=900.0, customer_attributes={"region": "north"})

    only = _recorded(
        decider,
        Settings(history_dir=tmp_path / "allow", history_fields="customer.clv,context.channel"),
        run,
    )
    assert set(only[0].fields) == {"customer.clv", "context.channel"}  # type: ignore[union-attr]
    without = _recorded(
        decider,
        Settings(history_dir=tmp_path / "deny", history_exclude="customer.attributes.region"),
        run,
    )
    fields = without[0].fields  # type: ignore[union-attr]
    assert "customer.attributes.region" not in fields
    assert "customer.clv" in fields


def test_history_off_writes_nothing(decider: Decider, tmp_path: Path) -> None:
    settings = Settings(history_sink="off", history_dir=tmp_path / "none")
    with TestClient(create_app(decider, settings)) as client:
        _decide(client)
        assert client.get("/health/ready").json()["history"] == "off"
    assert not (tmp_path / "none").exists()
