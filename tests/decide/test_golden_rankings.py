"""Identical rankings before and after: a fixed set of demo requests, their full rankings
and the answers the API gives them, recorded once and compared on every run.

Performance work must not change a decision. `golden_rankings.json` holds 60 varied
requests (both channels, every call reason and lifecycle stage, missing values, null
attributes, declared and undeclared attributes) and, for each, what the demo bundle made of
it: the rank order, every offer's propensity, weight, value, boost, priority and verdict,
and the answer `POST /v1/decisions` returns (offers and, with `explain`, every
candidate's outcome). Numbers are compared to 1e-6 (relative).

A change that is meant to change decisions (a new bundle, a new model) rewrites the file:

    .venv/bin/python tests/decide/test_golden_rankings.py --write
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from nextbest.bundle import Bundle
from nextbest.decide import Decider, DecisionRequest

GOLDEN = Path(__file__).with_name("golden_rankings.json")
TOLERANCE = 1e-6


def golden_requests(bundle: Bundle, count: int = 60, seed: int = 20261129) -> list[dict[str, Any]]:
    """Seeded, varied requests; the first ones pin the edge cases down by hand."""
    rng = random.Random(seed)
    vocabulary = bundle.vocabulary
    products = sorted({o.product for o in bundle.offers if o.product})
    edge: list[dict[str, Any]] = [
        {"customer": {"id": "G-bare"}, "context": {"channel": "call_center"}},
        {"customer": {"id": "G-bare-web"}, "context": {"channel": "web"}},
        {
            "customer": {"id": "G-nulls", "attributes": {"tenure_months": None, "region": None}},
            "context": {"channel": "web", "attributes": {"page": None}},
        },
        {
            "customer": {"id": "G-zero", "clv": 0, "attributes": {"tenure_months": 0}},
            "context": {"channel": "call_center", "call_reason": "contract_cancellation"},
            "limit": 25,
            "explain": True,
        },
        {
            "customer": {
                "id": "G-rich",
                "clv": 250000.0,
                "lifecycle_stage": "at_risk",
                "attributes": {"churn_score": 0.99, "owned_products": products},
            },
            "context": {"channel": "call_center", "call_reason": "complaint", "wait_time_s": 0},
            "limit": 25,
            "explain": True,
        },
        {
            "customer": {"id": "G-undeclared", "attributes": {"shoe_size": 44, "nickname": "x"}},
            "context": {"channel": "web", "attributes": {"referrer": "ad"}},
        },
    ]
    generated: list[dict[str, Any]] = []
    for n in range(count - len(edge)):
        customer: dict[str, Any] = {"id": f"G-{n:03d}"}
        if rng.random() < 0.85:
            customer["clv"] = round(rng.lognormvariate(6.8, 0.9), 2)
        if rng.random() < 0.85:
            customer["lifecycle_stage"] = rng.choice(vocabulary.lifecycle_stages)
        attributes: dict[str, Any] = {}
        if rng.random() < 0.8:
            attributes["tenure_months"] = rng.randrange(0, 150)
        if rng.random() < 0.8:
            attributes["churn_score"] = round(rng.random(), 3)
        if rng.random() < 0.8:
            attributes["owned_products"] = rng.sample(products, rng.randrange(0, 5))
        if rng.random() < 0.5:
            attributes["marketing_consent"] = rng.random() < 0.5
        if rng.random() < 0.4:
            attributes["region"] = rng.choice(["north", "south", "east", "west"])
        if attributes:
            customer["attributes"] = attributes
        context: dict[str, Any] = {"channel": rng.choice(vocabulary.channels)}
        if rng.random() < 0.9:
            context["call_reason"] = rng.choice(vocabulary.call_reasons)
        if rng.random() < 0.8:
            context["wait_time_s"] = round(rng.expovariate(1 / 120), 1)
        if context["channel"] == "web" and rng.random() < 0.5:
            context["attributes"] = {"page": rng.choice(["home", "tariffs", "account"])}
        generated.append(
            {
                "customer": customer,
                "context": context,
                "limit": rng.choice([1, 3, 3, 5, 10]),
                "explain": rng.random() < 0.3,
            }
        )
    return [{**request, "dry_run": True} for request in edge + generated]


def ranking_of(decider: Decider, body: dict[str, Any]) -> dict[str, Any]:
    """Everything the stages before contact pressure made of one request."""
    ranking = decider.rank(msgspec.convert(body, DecisionRequest))
    return {
        "order": list(ranking.order),
        "offers": {
            offer.id: {
                "propensity": float(ranking.propensity[i]),
                "weight": float(ranking.weight[i]),
                "value": float(ranking.value[i]),
                "boost": float(ranking.boost[i]),
                "priority": float(ranking.priority[i]),
                "dropped_by": (
                    ranking.verdicts[i].dropped_by.wire if ranking.verdicts[i].dropped_by else None
                ),
                "pinned": ranking.verdicts[i].pinned,
                "fired": list(ranking.verdicts[i].fired),
            }
            for i, offer in enumerate(decider.bundle.offers)
        },
    }


_ANSWER_OFFER = ("rank", "offer_id", "priority", "propensity", "value")
_CANDIDATE = ("offer_id", "propensity", "priority", "outcome", "reason", "rank", "rules")


def answer_of(client: TestClient[Any], body: dict[str, Any]) -> dict[str, Any]:
    """What the API answers (the parts a decision's logic makes)."""
    response = client.post("/v1/decisions", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    explanation = answer.get("explanation")
    return {
        "offers": [{key: o[key] for key in _ANSWER_OFFER} for o in answer["offers"]],
        "candidates": (
            [{key: c[key] for key in _CANDIDATE} for c in explanation["candidates"]]
            if explanation
            else None
        ),
    }


def _close(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, float) and isinstance(actual, int | float):
        assert actual == pytest.approx(expected, rel=TOLERANCE, abs=1e-12), where
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert actual.keys() == expected.keys(), where
        for key, value in expected.items():
            _close(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), where
        assert len(actual) == len(expected), where
        for position, (got, want) in enumerate(zip(actual, expected, strict=True)):
            _close(got, want, f"{where}[{position}]")
    else:
        assert actual == expected, where


def _recorded() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(GOLDEN.read_text())["cases"]
    return cases


def test_the_recorded_set_is_varied() -> None:
    """The comparison means something only if the set reaches every stage's branches."""
    cases = _recorded()
    assert len(cases) >= 50
    channels = {c["request"]["context"]["channel"] for c in cases}
    reasons = {c["request"]["context"].get("call_reason") for c in cases}
    verdicts = {
        (o["dropped_by"] or "eligible").split(":")[0]
        for c in cases
        for o in c["ranking"]["offers"].values()
    }
    assert channels == {"call_center", "web"}
    assert None in reasons
    assert len(reasons) >= 8
    assert {"eligible", "channel", "rule"} <= verdicts
    assert any(o["boost"] != 1.0 for c in cases for o in c["ranking"]["offers"].values())
    assert any(
        cand["reason"] and cand["reason"].startswith("cap:")
        for c in cases
        for cand in c["answer"]["candidates"] or []
    )


_UNSCORED = ("propensity", "priority")
"""What a decision leaves unscored: a dropped offer's propensity (and so its priority),
unless the request asks for the explanation, which shows them."""


def _scored_part(ranking: dict[str, Any], explain: bool) -> dict[str, Any]:
    if explain:
        return ranking
    offers = {
        offer_id: {
            key: value
            for key, value in offer.items()
            if offer["dropped_by"] is None or key not in _UNSCORED
        }
        for offer_id, offer in ranking["offers"].items()
    }
    return {**ranking, "offers": offers}


def test_rankings_are_as_recorded(decider: Decider) -> None:
    for number, case in enumerate(_recorded()):
        explain = bool(case["request"].get("explain"))
        _close(
            _scored_part(ranking_of(decider, case["request"]), explain),
            _scored_part(case["ranking"], explain),
            f"case {number}",
        )


def test_dropped_offers_are_not_scored_unless_explained(decider: Decider) -> None:
    """The work a decision skips is what nothing reads: its dropped offers' scores."""
    cases = _recorded()
    unexplained = [c for c in cases if not c["request"].get("explain")]
    explained = [c for c in cases if c["request"].get("explain")]
    assert unexplained
    assert explained
    dropped = 0
    for case in unexplained:
        ranking = ranking_of(decider, case["request"])
        for offer in ranking["offers"].values():
            if offer["dropped_by"] is not None:
                dropped += 1
                assert offer["propensity"] == 0.0
    assert dropped
    for case in explained:
        ranking = ranking_of(decider, case["request"])
        assert all(o["propensity"] > 0.0 for o in ranking["offers"].values())


def test_answers_are_as_recorded(client: TestClient[Any]) -> None:
    for number, case in enumerate(_recorded()):
        _close(answer_of(client, case["request"]), case["answer"], f"case {number}")


def _write() -> None:
    from helpers import DEMO_BUNDLE
    from nextbest.api.app import create_app
    from nextbest.bundle import load_bundle
    from nextbest.config import Settings

    decider = Decider(load_bundle(DEMO_BUNDLE))
    with TestClient(create_app(decider, Settings(history_sink="off"))) as client:
        cases = [
            {
                "request": body,
                "ranking": ranking_of(decider, body),
                "answer": answer_of(client, body),
            }
            for body in golden_requests(decider.bundle)
        ]
    lines = ",\n".join(json.dumps(case, separators=(",", ":")) for case in cases)
    GOLDEN.write_text(f'{{"bundle":"{DEMO_BUNDLE.name}","cases":[\n{lines}\n]}}\n')
    print(f"wrote {len(cases)} cases to {GOLDEN}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    root = Path(__file__).resolve().parents[2]
    sys.path[:0] = [str(root / "tests"), str(root / "loadtests")]
    _write()
