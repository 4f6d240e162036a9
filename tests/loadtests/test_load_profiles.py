"""The load profiles send what the service accepts, with customers that come back.

The scenario modules are plain Python; Locust itself is never imported here (its gevent
monkey-patching would change the whole test process).
"""

from __future__ import annotations

import importlib
import random
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from litestar.testing import TestClient

from helpers import DEMO_BUNDLE
from nextbest.api.app import create_app
from nextbest.decide import Decider

LOADTESTS = Path(__file__).resolve().parents[2] / "loadtests"


@pytest.fixture(scope="module")
def scenarios() -> ModuleType:
    sys.path.insert(0, str(LOADTESTS))
    try:
        return importlib.import_module("scenarios")
    finally:
        sys.path.remove(str(LOADTESTS))


@pytest.fixture
def app_client(decider: Decider) -> Iterator[TestClient[Any]]:
    """An app of its own (its own embedded store), since the profiles record contacts."""
    with TestClient(create_app(decider)) as client:
        yield client


def test_the_vocabulary_is_the_bundles(scenarios: ModuleType) -> None:
    vocabulary = scenarios.load_vocabulary(DEMO_BUNDLE)
    assert vocabulary.channels == ("call_center", "web")
    assert "move_house" in vocabulary.call_reasons
    assert vocabulary.categories["gas_supply"] == "cross_sell"
    assert "gas" in vocabulary.products
    with pytest.raises(ValueError, match="no channel 'fax'"):
        vocabulary.require_channel("fax")


def test_customers_recur_from_a_reserved_range(scenarios: ModuleType) -> None:
    pool = scenarios.CustomerPool(scenarios.load_vocabulary(DEMO_BUNDLE))
    rng = random.Random(1)
    drawn = Counter(pool.draw(rng) for _ in range(20_000))
    assert all(c.startswith("LT-") and len(c) == 9 for c in drawn)
    top_id, top_count = drawn.most_common(1)[0]
    assert top_id == "LT-000001"
    assert 0.01 < top_count / 20_000 < 0.05
    assert sum(n for _, n in drawn.most_common(1000)) / 20_000 > 0.3
    assert pool.profile("LT-000042") == pool.profile("LT-000042")


def test_calls_are_accepted_and_their_feedback_too(
    scenarios: ModuleType, app_client: TestClient[Any]
) -> None:
    pool = scenarios.CustomerPool(scenarios.load_vocabulary(DEMO_BUNDLE), size=50)
    rng = random.Random(2)
    outcomes: Counter[str] = Counter()
    for _ in range(60):
        call = scenarios.new_call(rng, pool, channel="call_center", time_scale=0.01, dry_run=False)
        response = app_client.post("/v1/decisions", json=call.body)
        assert response.status_code == 200, response.text
        answer = response.json()
        plan = scenarios.plan_call(rng, answer["offers"])
        events = [(o, "presented") for o in plan.pitched] + plan.answers
        for offer_id, outcome in events:
            feedback = {
                "decision_id": answer["decision_id"],
                "customer_id": answer["customer_id"],
                "offer_id": offer_id,
                "channel": "call_center",
                "outcome": outcome,
            }
            sent = app_client.post("/v1/feedback", json=feedback)
            assert sent.status_code == 202, sent.text
            outcomes[outcome] += 1
    assert {"presented", "declined", "discarded"} <= set(outcomes)


def test_web_pages_are_accepted(scenarios: ModuleType, app_client: TestClient[Any]) -> None:
    pool = scenarios.CustomerPool(scenarios.load_vocabulary(DEMO_BUNDLE), size=50)
    rng = random.Random(3)
    outcomes: Counter[str] = Counter()
    for _ in range(20):
        for view in scenarios.plan_visit(rng, pool, channel="web", time_scale=0.01, dry_run=True):
            for placement in view.placements:
                response = app_client.post("/v1/decisions", json=placement.body)
                assert response.status_code == 200, response.text
                offers = response.json()["offers"]
                outcomes.update(o for _, o in scenarios.impression_outcomes(rng, offers))
    assert outcomes["presented"] > 0
    assert set(outcomes) <= {"presented", "accepted", "declined", "discarded"}
