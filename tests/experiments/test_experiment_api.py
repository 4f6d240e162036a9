"""Through the running app: the answer names the experiment and the arm, the history
records them, `/metrics` counts decisions, offers and responses by arm, and every arm
passes the same contact policies."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from experiment_bundles import WithExperiments
from helpers import decision_request
from nextbest.api.app import create_app
from nextbest.bundle import Bundle, load_bundle
from nextbest.config import Settings
from nextbest.decide import Decider
from nextbest.history.reader import HistoryReader
from nextbest.history.records import DecisionRecord
from nextbest.pressure import MemoryContactStore
from nextbest.pressure.gate import PressureGate

SALES = {"upsell", "cross_sell", "retention"}
EXPERIMENTS = [
    {
        "id": "web_home",
        "salt": "web home 2026-12",
        "scope": {"channels": ["web"]},
        "arms": [
            {"id": "champion", "share": 0.5},
            {"id": "control", "share": 0.25, "policy": "no_offer"},
            {"id": "rules", "share": 0.25, "policy": "rules_only"},
        ],
    },
    {
        "id": "desk",
        "salt": "desk 2026-12",
        "scope": {"channels": ["call_center"], "placements": ["agent_desktop"]},
        "arms": [
            {"id": "champion", "share": 0.2},
            {"id": "rules", "share": 0.2, "policy": "rules_only"},
            {"id": "push", "share": 0.2, "levers": {"upsell": 5.0, "cross_sell": 5.0}},
            {"id": "control", "share": 0.2, "policy": "no_offer"},
            {"id": "random", "share": 0.2, "policy": "random"},
        ],
    },
]


@pytest.fixture
def bundle(with_experiments: WithExperiments) -> Bundle:
    return load_bundle(with_experiments(EXPERIMENTS))


def customer_in(bundle: Bundle, arm: str, channel: str, placement: str | None) -> str:
    """The first customer id the experiment puts in `arm`."""
    for i in itertools.count():
        customer = f"C-{arm}-{i}"
        assignment = bundle.experiments.assign(customer, channel, placement)
        if assignment is not None and assignment.arm.id == arm:
            return customer
    raise AssertionError  # pragma: no cover - count() never ends


def body(
    customer: str, channel: str, placement: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    request = decision_request(customer_id=customer, channel=channel, **kwargs)
    if placement is not None:
        request["context"]["placement"] = placement
    request["dry_run"] = False
    return request


def test_the_answer_names_the_experiment_and_the_arm(bundle: Bundle) -> None:
    with TestClient(create_app(Decider(bundle))) as client:
        for arm in ("champion", "control", "rules"):
            customer = customer_in(bundle, arm, "web", None)
            answer = client.post("/v1/decisions", json=body(customer, "web")).json()
            assert (answer["experiment"], answer["arm"]) == ("web_home", arm)
        customer = customer_in(bundle, "push", "call_center", "agent_desktop")
        answer = client.post(
            "/v1/decisions", json=body(customer, "call_center", "agent_desktop")
        ).json()
        assert (answer["experiment"], answer["arm"]) == ("desk", "push")
        outside = client.post("/v1/decisions", json=body(customer, "call_center")).json()
        assert "experiment" not in outside
        assert "arm" not in outside
        assert client.get("/v1/bundle").json()["experiments"] == {
            "web_home": ["champion", "control", "rules"],
            "desk": ["champion", "rules", "push", "control", "random"],
        }


def test_the_history_records_the_experiment_and_the_arm(bundle: Bundle, tmp_path: Path) -> None:
    answers = []
    with TestClient(create_app(Decider(bundle), Settings(history_dir=tmp_path))) as client:
        for arm in ("champion", "control", "rules"):
            customer = customer_in(bundle, arm, "web", None)
            answers.append(client.post("/v1/decisions", json=body(customer, "web")).json())
        answers.append(client.post("/v1/decisions", json=body("C-x", "call_center")).json())
    records = {
        r.decision_id: r
        for r in HistoryReader(str(tmp_path)).records()
        if isinstance(r, DecisionRecord)
    }
    assert [
        (records[a["decision_id"]].experiment, records[a["decision_id"]].arm) for a in answers
    ] == [
        ("web_home", "champion"),
        ("web_home", "control"),
        ("web_home", "rules"),
        (None, None),
    ]


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(client: TestClient[Any]) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for s in family.samples
    }


def _count(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def test_metrics_count_decisions_offers_and_responses_by_arm(bundle: Bundle) -> None:
    champion = customer_in(bundle, "champion", "call_center", "agent_desktop")
    control = customer_in(bundle, "control", "call_center", "agent_desktop")
    with TestClient(create_app(Decider(bundle))) as client:
        before = _samples(client)
        answers = {}
        for customer in (champion, control, champion):
            request = body(customer, "call_center", "agent_desktop", call_reason="billing_question")
            answers[customer] = client.post("/v1/decisions", json=request).json()
        answer = answers[champion]
        feedback = {
            "decision_id": answer["decision_id"],
            "customer_id": champion,
            "offer_id": answer["offers"][0]["offer_id"],
            "channel": "call_center",
            "placement": "agent_desktop",
            "outcome": "accepted",
        }
        assert client.post("/v1/feedback", json=feedback).status_code == 202
        assert client.post("/v1/feedback", json=feedback).json()["status"] == "duplicate"
        after = _samples(client)

    def delta(name: str, **labels: str) -> float:
        return _count(after, name, **labels) - _count(before, name, **labels)

    decisions = "nextbest_experiment_decisions_total"
    assert delta(decisions, experiment="desk", arm="champion") == 2
    assert delta(decisions, experiment="desk", arm="control") == 1
    assert delta(decisions, experiment="desk", arm="rules") == 0
    offers = "nextbest_experiment_offers_total"
    assert delta(offers, experiment="desk", arm="control") == len(answers[control]["offers"])
    for category in SALES:
        assert delta(offers, experiment="desk", arm="control", category=category) == 0
    assert delta(offers, experiment="desk", arm="champion") > 0
    responses = "nextbest_experiment_responses_total"
    assert delta(responses, experiment="desk", arm="champion", outcome="accepted") == 1
    assert delta(responses, experiment="desk") == 1  # the duplicate is not counted


def test_every_arm_passes_the_same_contact_policies(bundle: Bundle) -> None:
    """The demo allows one non-service offer per customer per day on call_center: no arm
    buys a second one, however it ranks."""
    gate = PressureGate(MemoryContactStore(), budget_s=1.0)
    with TestClient(create_app(Decider(bundle), gate=gate)) as client:
        for arm in ("champion", "rules", "push", "control", "random"):
            customer = customer_in(bundle, arm, "call_center", "agent_desktop")
            shown = []
            for reason in ("move_house", "tariff_change", "general_info"):
                request = body(
                    customer, "call_center", "agent_desktop", call_reason=reason, stage="loyal"
                )
                answer = client.post("/v1/decisions", json=request).json()
                assert answer["arm"] == arm
                shown += [o["offer_id"] for o in answer["offers"] if o["category"] in SALES]
            assert len(shown) <= 1, (arm, shown)
            if arm == "push":
                assert len(shown) == 1  # the cap, not the arm, held the others back
