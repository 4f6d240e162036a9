"""HTTP requests by route template, method and status with latency; the breaker's gauge."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from helpers import decision_request
from nextbest.api.app import create_app
from nextbest.config import Settings
from nextbest.decide import Decider
from nextbest.pressure import MemoryContactStore, StoreUnavailableError
from nextbest.pressure.factory import open_gate
from nextbest.pressure.gate import PressureGate
from nextbest.pressure.release import Releaser
from nextbest.pressure.types import CapCandidate

REQUESTS = "nextbest_http_request_duration_seconds_count"
BREAKER = "nextbest_contact_store_breaker_open"
PENDING = "nextbest_contact_releases_pending"
RELEASES = "nextbest_contact_releases_total"


def _samples(client: TestClient[Any]) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _count(client: TestClient[Any], route: str, method: str, status: str) -> float:
    labels = frozenset({"route": route, "method": method, "status": status}.items())
    return _samples(client).get((REQUESTS, labels), 0.0)


def test_requests_are_counted_by_route_template_method_and_status(
    client: TestClient[Any],
) -> None:
    cases = [
        (
            "/v1/decisions",
            "POST",
            "200",
            lambda: client.post("/v1/decisions", json=decision_request()),
        ),
        ("/v1/decisions", "POST", "422", lambda: client.post("/v1/decisions", json={})),
        ("/v1/decisions", "POST", "400", lambda: client.post("/v1/decisions", content=b"{")),
        ("/v1/offers", "GET", "200", lambda: client.get("/v1/offers")),
        ("unmatched", "GET", "404", lambda: client.get("/v1/nothing/42")),
    ]
    for route, method, status, call in cases:
        before = _count(client, route, method, status)
        call()
        call()
        assert _count(client, route, method, status) == before + 2, (route, status)


def test_latency_is_observed_in_buckets(client: TestClient[Any]) -> None:
    client.post("/v1/decisions", json=decision_request())
    samples = _samples(client)
    labels = frozenset({"route": "/v1/decisions", "method": "POST", "status": "200"}.items())
    total = samples[("nextbest_http_request_duration_seconds_sum", labels)]
    assert total > 0
    infinite = frozenset({*labels, ("le", "+Inf")})
    assert (
        samples[("nextbest_http_request_duration_seconds_bucket", infinite)]
        == samples[(REQUESTS, labels)]
    )


def test_the_breaker_gauge_follows_the_breaker(decider: Decider) -> None:
    settings = Settings()
    gate = open_gate(settings)
    with TestClient(create_app(decider, settings, gate)) as client:
        client.get("/health/live")
        assert _samples(client)[(BREAKER, frozenset())] == 0
        for _ in range(10):
            gate.breaker.failed()
        client.get("/health/live")
        assert _samples(client)[(BREAKER, frozenset())] == 1
        gate.breaker.succeeded()
        client.get("/health/live")
        assert _samples(client)[(BREAKER, frozenset())] == 0


class UnreachableForReleases(MemoryContactStore):
    async def release(self, *args: Any) -> int:
        raise StoreUnavailableError("down")


def test_releases_pending_released_and_abandoned_are_exported(decider: Decider) -> None:
    store = UnreachableForReleases()
    clock = [0.0]
    releaser = Releaser(store, first_retry_s=0.01, give_up_s=60.0, clock=lambda: clock[0])
    gate = PressureGate(store, releaser=releaser)
    candidates = [CapCandidate("offer")]

    def released(result: str) -> float:
        return _samples(client).get((RELEASES, frozenset({"result": result}.items())), 0.0)

    async def submit(decisions: int) -> None:
        for n in range(decisions):
            releaser.submit("C-1", f"d{n}", candidates, 0)

    with TestClient(create_app(decider, Settings(), gate)) as client:
        before = released("released"), released("abandoned")
        client.blocking_portal.call(submit, 3)
        client.get("/health/live")
        assert _samples(client)[(PENDING, frozenset())] == 3
        assert (released("released"), released("abandoned")) == before
        clock[0] = 61.0  # the next failed attempt gives up
        while releaser.pending:
            client.get("/health/live")
        client.get("/health/live")
        assert _samples(client)[(PENDING, frozenset())] == 0
        assert (released("released"), released("abandoned")) == (before[0], before[1] + 3)
