"""`POST /v1/feedback`: what happened to a returned offer."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from litestar import Controller, Response, post
from litestar.datastructures import State
from litestar.status_codes import HTTP_202_ACCEPTED

from nextbest.api.openapi import FeedbackBody, responses
from nextbest.api.problems import retry_later
from nextbest.api.state import Serving
from nextbest.api.strict_body import StrictJSON
from nextbest.api.wire import FeedbackReceipt, FeedbackRequest
from nextbest.errors import InvalidRequestError
from nextbest.history.build import response_record
from nextbest.metrics import count_experiment_response, count_feedback
from nextbest.pressure import StoreUnavailableError

__all__ = ["FeedbackRoutes"]

_log = structlog.get_logger("nextbest.feedback")


EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
"""No feedback is older: an earlier `occurred_at` is a client's mistake (a zero date)."""


def _event_time_ms(feedback: FeedbackRequest, now_ms: int) -> int:
    """The client's time of the event, never later than now (a naive time is UTC)."""
    if feedback.occurred_at is None:
        return now_ms
    occurred = feedback.occurred_at
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    if occurred < EARLIEST_EVENT:
        raise InvalidRequestError(
            "occurred_at", f"before {EARLIEST_EVENT.isoformat()}: not a time an event happened"
        )
    return min(now_ms, int(occurred.timestamp() * 1000))


class FeedbackRoutes(Controller):
    path = "/v1"
    tags = ("feedback",)

    @post(
        "/feedback",
        status_code=HTTP_202_ACCEPTED,
        summary="Record what happened to a returned offer",
        dto=StrictJSON[FeedbackRequest],
        return_dto=None,
        responses=responses(400, 413, 422, 503),
    )
    async def feedback(self, state: State, data: FeedbackBody) -> Response[FeedbackReceipt]:
        """202 once the store holds it; the same event twice counts once."""
        serving: Serving = state.serving
        bundle = serving.decider.bundle
        problems: list[tuple[str, str]] = []
        if data.channel not in bundle.vocabulary.channels:
            allowed = ", ".join(bundle.vocabulary.channels)
            problems.append(("channel", f"unknown value {data.channel!r}; allowed: {allowed}"))
        if data.offer_id not in {o.id for o in bundle.offers}:
            problems.append(("offer_id", f"unknown offer {data.offer_id!r}"))
        if problems:
            raise InvalidRequestError(*problems[0], more=problems[1:])
        key = data.event_id or f"{data.decision_id}:{data.offer_id}:{data.outcome}"
        effect = bundle.policies.feedback_effect(
            data.channel, data.offer_id, data.outcome, f"{data.decision_id}:{data.offer_id}", key
        )
        gate = serving.gate
        now_ms = gate.clock_ms()
        occurred_ms = _event_time_ms(data, now_ms)
        try:
            applied = await gate.feedback(data.customer_id, effect, occurred_ms)
        except StoreUnavailableError as exc:
            count_feedback(data.outcome, "unavailable")
            _log.warning(
                "feedback_unavailable", bundle_version=bundle.version, decision_id=data.decision_id
            )
            raise retry_later("the contact store is unavailable; retry later") from exc
        count_feedback(data.outcome, "recorded" if applied else "duplicate")
        assignment = bundle.experiments.assign(data.customer_id, data.channel, data.placement)
        if applied and assignment is not None:
            count_experiment_response(assignment.experiment, assignment.arm.id, data.outcome)
        if applied and serving.history is not None:
            serving.history.response(
                response_record(
                    decision_id=data.decision_id,
                    offer_id=data.offer_id,
                    customer_id=data.customer_id,
                    channel=data.channel,
                    outcome=data.outcome,
                    occurred_ms=occurred_ms,
                    received_ms=now_ms,
                    key=key,
                )
            )
        _log.info(
            "feedback",
            bundle_version=bundle.version,
            decision_id=data.decision_id,
            customer_id=data.customer_id,
            offer_id=data.offer_id,
            channel=data.channel,
            outcome=data.outcome,
            duplicate=not applied,
        )
        return Response(
            FeedbackReceipt(status="recorded" if applied else "duplicate", idempotency_key=key),
            status_code=HTTP_202_ACCEPTED,
        )
