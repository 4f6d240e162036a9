"""Readiness: not before start-up has finished; honest about the contact store."""

from __future__ import annotations

import gc

from litestar.testing import TestClient

from helpers import free_port
from nextbest.api.app import create_app
from nextbest.api.state import Serving
from nextbest.decide import Decider
from nextbest.pressure import MemoryContactStore
from nextbest.pressure.gate import PressureGate
from nextbest.pressure.redis import RedisContactStore
from redis_server import RedisServer


def test_ready_with_the_embedded_store(decider: Decider) -> None:
    with TestClient(create_app(decider)) as client:
        ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "bundle_version": decider.bundle.version,
        "contact_store": "ok",
        "history": "ok",
    }


def test_not_ready_until_start_up_has_finished(decider: Decider) -> None:
    app = create_app(decider, gate=PressureGate(MemoryContactStore()))
    with TestClient(app) as client:
        serving: Serving = app.state.serving
        serving.started = False
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "starting"}


def test_ready_but_degraded_while_redis_is_unreachable(decider: Decider) -> None:
    store = RedisContactStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.1)
    with TestClient(create_app(decider, gate=PressureGate(store))) as client:
        ready = client.get("/health/ready")
        live = client.get("/health/live")
    assert (ready.status_code, ready.json()["contact_store"]) == (200, "degraded")
    assert live.status_code == 200


def test_ready_with_redis_once_it_answers(decider: Decider, redis_server: RedisServer) -> None:
    store = RedisContactStore.from_url(redis_server.url)
    with TestClient(create_app(decider, gate=PressureGate(store))) as client:
        assert client.get("/health/ready").json()["contact_store"] == "ok"
        with redis_server.client() as redis:
            scripts = redis.execute_command("INFO", "memory")["number_of_cached_scripts"]
    assert scripts == 3  # select, feedback, release: loaded at start-up


def test_start_up_objects_are_frozen_out_of_the_cycle_collector(decider: Decider) -> None:
    gc.unfreeze()
    with TestClient(create_app(decider)) as client:
        assert client.get("/health/ready").status_code == 200
        assert gc.get_freeze_count() > 10_000
