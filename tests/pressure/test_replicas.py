"""Real server processes sharing one real redis-server: caps hold across replicas, and a
Redis outage degrades answers without failing or hanging them."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from helpers import decision_request, free_port, serve, wait_ready

SALES = {"upsell", "cross_sell", "retention"}


def _replica(redis_url: str, budget_ms: int) -> tuple[str, subprocess.Popen[str]]:
    port = free_port()
    process = serve(
        "--port",
        str(port),
        env={
            "NEXTBEST_REDIS_URL": redis_url,
            "NEXTBEST_REDIS_BUDGET_MS": str(budget_ms),
            "NEXTBEST_LOG_LEVEL": "warning",
        },
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, process)
    return base, process


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=15)


@pytest.fixture
def replicas(redis_server: Any) -> Iterator[list[str]]:
    started = [_replica(redis_server.url, budget_ms=1000) for _ in range(2)]
    try:
        yield [base for base, _ in started]
    finally:
        for _, process in started:
            _stop(process)


async def _decide_many(bases: list[str], customer: str, count: int) -> list[dict[str, Any]]:
    body = decision_request(customer_id=customer, channel="web", stage="loyal", clv=2000.0)
    body["dry_run"] = False
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        responses = await asyncio.gather(
            *(client.post(f"{bases[i % len(bases)]}/v1/decisions", json=body) for i in range(count))
        )
    assert all(r.status_code == 200 for r in responses), {r.status_code for r in responses}
    return [r.json() for r in responses]


@pytest.mark.slow
def test_200_concurrent_decisions_on_two_replicas_return_exactly_three_sales_offers(
    replicas: list[str],
) -> None:
    results = asyncio.run(_decide_many(replicas, "C-race", 200))
    sales = [o for r in results for o in r["offers"] if o["category"] in SALES]
    assert len(sales) == 3
    assert all(r["degraded"] == [] for r in results)


@pytest.mark.slow
def test_redis_outage_degrades_and_recovers_without_restart(redis_server: Any) -> None:
    base, process = _replica(redis_server.url, budget_ms=10)
    body = decision_request(customer_id="C-outage", channel="web", stage="loyal", clv=2000.0)
    body["dry_run"] = True
    try:
        with httpx.Client(timeout=10) as client:
            healthy = client.post(f"{base}/v1/decisions", json=body).json()
            assert healthy["degraded"] == []
            assert [o for o in healthy["offers"] if o["category"] in SALES]

            redis_server.stop()
            slowest = 0.0
            for _ in range(30):
                started = time.perf_counter()
                response = client.post(f"{base}/v1/decisions", json=body)
                slowest = max(slowest, time.perf_counter() - started)
                assert response.status_code == 200
                answer = response.json()
                assert answer["degraded"] == ["contact_pressure"]
                assert not [o for o in answer["offers"] if o["category"] in SALES]
            assert slowest < 0.5
            feedback = client.post(
                f"{base}/v1/feedback",
                json={
                    "decision_id": healthy["decision_id"],
                    "customer_id": "C-outage",
                    "offer_id": healthy["offers"][0]["offer_id"],
                    "channel": "web",
                    "outcome": "declined",
                },
            )
            assert feedback.status_code == 503
            assert feedback.headers["retry-after"] == "1"

            redis_server.start()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                answer = client.post(f"{base}/v1/decisions", json=body).json()
                if answer["degraded"] == []:
                    break
                time.sleep(0.2)
            assert answer["degraded"] == []
            assert [o for o in answer["offers"] if o["category"] in SALES]
    finally:
        _stop(process)
