"""Real server processes sharing one real redis-server: caps hold across replicas, and a
Redis outage degrades answers without failing or hanging them."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from helpers import decision_request, free_port, serve, wait_ready

SALES = {"upsell", "cross_sell", "retention"}
BUDGET_MS = 250
"""Generous for a healthy Redis on a loaded 2-core CI machine; an outage is noticed at
once anyway (connection refused), or after the budget at worst."""


def _replica(redis_url: str, budget_ms: int, log: IO[str]) -> tuple[str, subprocess.Popen[str]]:
    port = free_port()
    process = serve(
        "--port",
        str(port),
        env={
            "NEXTBEST_REDIS_URL": redis_url,
            "NEXTBEST_REDIS_BUDGET_MS": str(budget_ms),
            "NEXTBEST_LOG_LEVEL": "warning",
        },
        log=log,
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, process)
    return base, process


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=15)


@pytest.fixture
def replicas(redis_server: Any, tmp_path: Path) -> Iterator[list[str]]:
    log = (tmp_path / "replicas.log").open("w")
    started = [_replica(redis_server.url, 1000, log) for _ in range(2)]
    try:
        yield [base for base, _ in started]
    finally:
        for _, process in started:
            _stop(process)
        log.close()


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


async def _traffic(
    base: str, body: dict[str, Any], stop: asyncio.Event, answers: list[tuple[float, int, Any]]
) -> None:
    """Decisions back to back until `stop`, recording (latency s, status, body)."""
    async with httpx.AsyncClient(timeout=10) as client:
        while not stop.is_set():
            started = time.perf_counter()
            response = await client.post(f"{base}/v1/decisions", json=body)
            answers.append((time.perf_counter() - started, response.status_code, response.json()))


async def _outage(redis_server: Any, base: str, body: dict[str, Any]) -> list[Any]:
    """Eight streams of decisions while Redis runs, stops, and starts again."""
    stop = asyncio.Event()
    phases: dict[str, list[tuple[float, int, Any]]] = {"before": [], "down": [], "after": []}
    answers: list[tuple[float, int, Any]] = []
    streams = [asyncio.create_task(_traffic(base, body, stop, answers)) for _ in range(8)]
    await asyncio.sleep(1.5)
    phases["before"] = answers[len(answers) // 4 :]  # connections and the script are warm
    await asyncio.to_thread(redis_server.stop)
    answers[:] = []
    await asyncio.sleep(2.0)
    phases["down"] = answers[len(answers) // 4 :]  # after the stop has surely been noticed
    async with httpx.AsyncClient(timeout=10) as client:
        feedback = await client.post(
            f"{base}/v1/feedback",
            json={
                "decision_id": "d-outage",
                "customer_id": "C-outage",
                "offer_id": "gas_supply",
                "channel": "web",
                "outcome": "declined",
            },
        )
    await asyncio.to_thread(redis_server.start)
    answers[:] = []
    await asyncio.sleep(5.0)
    phases["after"] = answers[len(answers) // 2 :]  # the breaker has let a trial through
    stop.set()
    await asyncio.gather(*streams)
    return [phases, feedback]


@pytest.mark.slow
def test_redis_outage_in_traffic_degrades_and_recovers_without_restart(
    redis_server: Any, tmp_path: Path
) -> None:
    body = decision_request(customer_id="C-outage", channel="web", stage="loyal", clv=2000.0)
    body["dry_run"] = True
    log_path = tmp_path / "replica.log"
    with log_path.open("w") as log:
        base, process = _replica(redis_server.url, BUDGET_MS, log)
        try:
            phases, feedback = asyncio.run(_outage(redis_server, base, body))
        finally:
            _stop(process)
    lines = log_path.read_text().splitlines()
    events = [json.loads(line)["event"] for line in lines if line.startswith("{")]
    assert events.count("decision_degraded") >= len(phases["down"])

    everything = [a for answers in phases.values() for a in answers]
    assert {status for _, status, _ in everything} == {200}
    slowest = max(latency for latency, _, _ in everything)
    assert slowest < BUDGET_MS / 1000 + 0.5, f"slowest answer {slowest:.3f} s"
    for phase, degraded in [("before", []), ("down", ["contact_pressure"]), ("after", [])]:
        answers = [body for _, _, body in phases[phase]]
        assert answers, phase
        wrong = [a["degraded"] for a in answers if a["degraded"] != degraded]
        assert not wrong, f"{phase}: {len(wrong)} of {len(answers)} answers: {wrong[:3]}"
        has_sales = [any(o["category"] in SALES for o in a["offers"]) for a in answers]
        assert all(has_sales) if not degraded else not any(has_sales), phase
    assert feedback.status_code == 503
    assert feedback.headers["retry-after"] == "1"
