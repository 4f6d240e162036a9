"""`nextbest.client` against a real `nextbest serve`: the server's own types both ways, a
refusal as `NextbestError` with its problem document, request ids carried."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from _servers import nextbest_server

from nextbest.api.wire import FeedbackRequest
from nextbest.client import AsyncNextbestClient, NextbestClient, NextbestError
from nextbest.decide import Context, Customer, DecisionRequest, DecisionResponse

TOKEN = "client-admin-token-0123456789"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with nextbest_server(
        log_dir=tmp_path_factory.mktemp("client"), env={"NEXTBEST_ADMIN_TOKEN": TOKEN}
    ) as server:
        yield server.base


def _request(call_reason: str = "move_house", channel: str = "call_center") -> DecisionRequest:
    return DecisionRequest(
        customer=Customer(id="C-77", clv=1500.0, lifecycle_stage="loyal"),
        context=Context(channel=channel, call_reason=call_reason),
        limit=3,
        explain=True,
        dry_run=True,
    )


@pytest.mark.slow
def test_a_decision_and_its_feedback_with_the_sync_client(base: str) -> None:
    with NextbestClient(base) as nextbest:
        decision = nextbest.decide(_request())
        assert isinstance(decision, DecisionResponse)
        assert len(decision.offers) == 3
        assert decision.explanation is not None
        receipt = nextbest.feedback(
            FeedbackRequest(
                decision_id=decision.decision_id,
                customer_id="C-77",
                offer_id=decision.offers[0].offer_id,
                channel="call_center",
                outcome="presented",
            )
        )
        assert receipt.status == "recorded"
        assert nextbest.ready().status == "ready"
        assert nextbest.bundle().version == decision.bundle_version
        assert len(nextbest.offers().offers) == 20


@pytest.mark.slow
def test_a_refusal_raises_with_the_problem_and_the_request_id(base: str) -> None:
    with NextbestClient(base) as nextbest, pytest.raises(NextbestError) as caught:
        nextbest.decide(_request(channel="fax", call_reason="alien_visit"), request_id="desk-9")
    error = caught.value
    assert error.status == 422
    assert error.request_id == "desk-9"
    assert {e.field for e in error.problem.errors} == {"context.channel", "context.call_reason"}
    assert "context.channel" in str(error)


@pytest.mark.slow
def test_admin_reload_needs_and_uses_the_token(base: str) -> None:
    with NextbestClient(base) as anonymous, pytest.raises(ValueError, match="admin_token"):
        anonymous.reload()
    with NextbestClient(base, admin_token="wrong-token-of-enough-length") as wrong:
        with pytest.raises(NextbestError) as caught:
            wrong.reload()
        assert caught.value.status == 401
    with NextbestClient(base, admin_token=TOKEN) as admin:
        assert admin.reload().result == "loaded"
        with pytest.raises(NextbestError) as refused:
            admin.reload("/nowhere/at/all")
        assert refused.value.status == 422
        assert refused.value.problem.type == "urn:nextbest:problem:bundle-refused"


@pytest.mark.slow
def test_the_async_client_decides_concurrently(base: str) -> None:
    async def run() -> list[DecisionResponse]:
        async with AsyncNextbestClient(base) as nextbest:
            reasons = ["complaint", "move_house", "billing_question", "tariff_change"]
            return await asyncio.gather(
                *(nextbest.decide(_request(r), request_id=f"async-{r}") for r in reasons)
            )

    decisions = asyncio.run(run())
    assert len({d.decision_id for d in decisions}) == 4
    assert decisions[0].offers[0].category == "service"
    assert decisions[1].offers != decisions[0].offers
