"""Admission control: decisions past the in-flight bound wait before they start, and one
that waited past the queue deadline is refused with 503 and Retry-After."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from helpers import decision_request
from nextbest.api.admission import Admission, QueueDeadlineExceededError
from nextbest.api.app import create_app
from nextbest.config import Settings
from nextbest.decide import Decider


def test_decisions_past_the_bound_wait_their_turn_in_arrival_order() -> None:
    async def scenario() -> list[str]:
        admission = Admission(max_in_flight=2, deadline_s=30.0)
        order: list[str] = []
        release = asyncio.Event()

        async def decision(name: str) -> None:
            async with admission.slot():
                order.append(name)
                await release.wait()

        tasks = [asyncio.ensure_future(decision(f"d{n}")) for n in range(5)]
        await asyncio.sleep(0.01)
        started_at_once = list(order)
        release.set()
        await asyncio.gather(*tasks)
        return [*started_at_once, "|", *order]

    assert asyncio.run(scenario()) == ["d0", "d1", "|", "d0", "d1", "d2", "d3", "d4"]


def test_a_wait_past_the_deadline_is_refused_and_frees_its_place() -> None:
    async def scenario() -> list[Any]:
        admission = Admission(max_in_flight=1, deadline_s=0.02)
        outcomes: list[Any] = []
        async with admission.slot():
            with pytest.raises(QueueDeadlineExceededError) as refused:
                async with admission.slot():
                    pass
            outcomes.append(str(refused.value))
        async with admission.slot():
            outcomes.append("served")
        return outcomes

    refused, served = asyncio.run(scenario())
    assert refused == "waited 20 ms for one of 1 decisions in flight"
    assert served == "served"


def test_a_refused_decision_is_a_503_problem_with_retry_after(decider: Decider) -> None:
    settings = Settings(max_in_flight=1, queue_deadline_ms=20)
    app = create_app(decider, settings)
    body = decision_request(customer_id="C-busy")

    async def scenario() -> list[Any]:
        async with AsyncTestClient(app) as client:
            async with app.state.serving.admission.slot():  # the one decision in flight
                busy = await client.post(
                    "/v1/decisions", json=body, headers={"X-Request-ID": "r-busy"}
                )
            served = await client.post("/v1/decisions", json=body)
            metrics = await client.get("/metrics")
        return [busy, served, metrics.text]

    busy, served, metrics = asyncio.run(scenario())
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert busy.headers["content-type"].startswith("application/problem+json")
    assert busy.json()["status"] == 503
    assert "busy" in busy.json()["detail"]
    assert busy.headers["x-request-id"] == "r-busy"
    assert served.status_code == 200
    assert "nextbest_decisions_shed_total 1.0" in metrics
    assert (
        'nextbest_http_request_duration_seconds_count{method="POST",'
        'route="/v1/decisions",status="503"} 1.0'
    ) in metrics
