"""`GET /metrics` over real HTTP from a real server, parsed with the Prometheus parser."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _servers import nextbest_server
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from helpers import decision_request, free_port
from nextbest.api.app import create_app
from nextbest.decide import Decider
from nextbest.metric_batches import FLUSH_INTERVAL_S
from nextbest.pressure.gate import PressureGate
from nextbest.pressure.redis import RedisContactStore

CLOSE = {"Connection": "close"}  # new connections, spread over the workers
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(base: str) -> Samples:
    response = httpx.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def _total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


def _workers_seen(base: str) -> int:
    """The workers whose serving bundle the scrape reports (each sets it once started;
    several workers' samples carry their pid)."""
    samples = _scrape(base)
    return len(
        {dict(labels)["pid"] for (name, labels) in samples if name == "nextbest_bundle_info"}
    )


def _wait_for_workers(base: str, workers: int, timeout_s: float = 60.0) -> None:
    """The server answers once one worker is up; on a loaded machine the other may start
    seconds later."""
    deadline = time.monotonic() + timeout_s
    while _workers_seen(base) < workers:
        assert time.monotonic() < deadline, f"fewer than {workers} workers after {timeout_s} s"
        time.sleep(0.1)


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int]]:
    with nextbest_server(log_dir=tmp_path, workers=request.param) as running:
        yield running.base, request.param
        assert running.stop() == 0


@pytest.mark.slow
def test_metrics_count_decisions_offers_caps_and_feedback(server: tuple[str, int]) -> None:
    base, workers = server
    if workers > 1:
        _wait_for_workers(base, workers)
    body = decision_request(customer_id="C-metrics", channel="web", stage="loyal", clv=2000.0)
    body["dry_run"] = False
    with httpx.Client(timeout=10) as client:
        answers = [
            client.post(f"{base}/v1/decisions", json=body, headers=CLOSE).json() for _ in range(12)
        ]
        first = answers[0]
        feedback = {
            "decision_id": first["decision_id"],
            "customer_id": "C-metrics",
            "offer_id": first["offers"][0]["offer_id"],
            "channel": "web",
        }
        for outcome in ("presented", "accepted", "accepted"):
            client.post(f"{base}/v1/feedback", json={**feedback, "outcome": outcome})
    samples = _scrape(base)
    # a decision's figures reach the metrics in batches: the scraped worker's own before
    # the exposition, another worker's within about a second (metric_batches.py)
    deadline = time.monotonic() + 5 * FLUSH_INTERVAL_S
    while _total(samples, "nextbest_decisions_total") < 12 and time.monotonic() < deadline:
        time.sleep(0.1)
        samples = _scrape(base)
    info = [labels for (name, labels), _ in samples.items() if name == "nextbest_bundle_info"]
    if workers > 1:  # the scrape reports every worker, whichever worker answered it
        assert len({dict(labels)["pid"] for labels in info}) == workers

    assert _total(samples, "nextbest_decisions_total", channel="web") == 12
    assert _total(samples, "nextbest_decision_stage_seconds_count", stage="total") == 12
    assert _total(samples, "nextbest_decision_stage_seconds_count", stage="scoring") == 12
    returned = sum(len(a["offers"]) for a in answers)
    assert _total(samples, "nextbest_offers_returned_total") == returned
    assert _total(samples, "nextbest_caps_hit_total", policy="sales_3_per_7_days") > 0
    assert _total(samples, "nextbest_feedback_total", outcome="accepted", status="recorded") == 1
    assert _total(samples, "nextbest_feedback_total", outcome="accepted", status="duplicate") == 1
    assert _total(samples, "nextbest_feedback_total", outcome="presented") == 1
    version = first["bundle_version"]
    assert _total(samples, "nextbest_bundle_info", version=version) >= 1


def test_degraded_decisions_are_counted_by_channel_and_mode(decider: Decider) -> None:
    store = RedisContactStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.05)
    body = decision_request(customer_id="C-degraded", channel="web", stage="loyal", clv=900.0)
    with TestClient(create_app(decider, gate=PressureGate(store))) as client:

        def degraded() -> float:
            samples = {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(client.get("/metrics").text)
                for s in family.samples
            }
            return _total(
                samples, "nextbest_degraded_decisions_total", channel="web", mode="fail_closed"
            )

        before = degraded()
        for _ in range(5):
            assert client.post("/v1/decisions", json=body).json()["degraded"] == [
                "contact_pressure"
            ]
        assert degraded() - before == 5
