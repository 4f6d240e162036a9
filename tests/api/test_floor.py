"""The benchmark's floor route exists only when switched on, and decodes strictly."""

from __future__ import annotations

from litestar.testing import TestClient

from nextbest.api.app import create_app
from nextbest.config import Settings
from nextbest.decide import Decider


def test_the_floor_route_is_off_by_default(decider: Decider) -> None:
    with TestClient(create_app(decider)) as client:
        response = client.post("/bench/floor", json={"customer_id": "C-1", "channel": "web"})
    assert response.status_code == 404


def test_the_floor_route_answers_a_constant_when_on(decider: Decider) -> None:
    settings = Settings.from_env({"NEXTBEST_BENCH_FLOOR": "true"})
    with TestClient(create_app(decider, settings)) as client:
        good = client.post("/bench/floor", json={"customer_id": "C-1", "channel": "web"})
        bad = client.post("/bench/floor", json={"customer_id": 1})
    assert (good.status_code, good.json()) == (200, {"status": "ok"})
    assert bad.status_code == 422
