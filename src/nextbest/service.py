"""The application: one decision through every stage, then what it leaves behind.

Ranking (decide/), contact pressure (pressure/) and the answer are composed here; the
metrics and the log line are made from the finished Decision, never inside a stage.
Every line logged during a decision carries its decision id, customer id and bundle
version (log_context.py).
"""

from __future__ import annotations

import os
import time

import structlog

from nextbest.decide.decider import Decider
from nextbest.decide.exploring import ExplorationPlan
from nextbest.decide.types import DecisionRequest
from nextbest.decide.values import WITHHELD, Decision, DropReason, Selection
from nextbest.history.recorder import HistoryRecorder
from nextbest.log_context import bind_log_context, reset_log_context
from nextbest.logging import log_info
from nextbest.metrics import count_degraded, observe_decision
from nextbest.pressure.gate import GateResult, PressureGate

__all__ = ["decide"]

_log = structlog.get_logger("nextbest.decision")


def _selection(result: GateResult, plan: ExplorationPlan | None) -> Selection:
    blocked = {offer: DropReason("cap", policy) for offer, policy in result.capped.items()}
    blocked.update((offer, WITHHELD) for offer in result.withheld)
    explored = None
    if plan is not None and result.counts is not None:
        explored = plan.explored(result.selected, result.considered, result.counts, result.capped)
    return Selection(result.selected, blocked, result.degraded_mode, explored)


async def decide(
    decider: Decider,
    gate: PressureGate,
    request: DecisionRequest,
    history: HistoryRecorder | None = None,
) -> Decision:
    """Rank, then take the top `limit` that the caps allow; unless `dry_run`, the offers
    returned are recorded as contacts in the same atomic store call as the check, and the
    decision is handed to the history."""
    started = time.perf_counter_ns()
    decision_id = os.urandom(16).hex()  # 128 random bits, as uuid4's hex for a fifth of its CPU
    bundle = decider.bundle
    logged_with = bind_log_context(
        decision_id=decision_id, customer_id=request.customer.id, bundle_version=bundle.version
    )
    try:
        ranking = await decider.rank_together(request, decision_id)
        plan = decider.explore(ranking)
        before_store = time.perf_counter_ns()
        result = await gate.select(
            bundle.policies,
            request.customer.id,
            request.context.channel,
            decision_id,
            ranking.order if plan is None else plan.order,
            request.limit,
            record=not request.dry_run,
            picks=None if plan is None else plan.picks,
        )
        pressure_ns = time.perf_counter_ns() - before_store
        decision = decider.finish(ranking, _selection(result, plan), pressure_ns)
        _record(decision, result, time.perf_counter_ns() - started)
        if history is not None:
            history.decision(decision, bundle.name)
    finally:
        reset_log_context(logged_with)
    return decision


def _record(decision: Decision, result: GateResult, total_ns: int) -> None:
    request, response, timings = decision.ranking.request, decision.response, decision.timings
    channel = request.context.channel
    if result.store_error is not None:
        _log.warning("contact_store_failed", error=result.store_error)
    if result.degraded_mode is not None:
        count_degraded(channel, result.degraded_mode)
        _log.warning(
            "decision_degraded",
            reason="contact_pressure",
            mode=result.degraded_mode,
            channel=channel,
        )
    observe_decision(decision, total_ns)
    assignment = decision.ranking.assignment
    arm = (
        {}
        if assignment is None
        else {"experiment": assignment.experiment, "arm": assignment.arm.id}
    )
    log_info(
        _log,
        "decision",
        channel=channel,
        offers=[o.offer_id for o in response.offers],
        dry_run=request.dry_run,
        rules_us=timings.rules_ns // 1000,
        scoring_us=timings.scoring_ns // 1000,
        arbitration_us=timings.arbitration_ns // 1000,
        pressure_us=timings.pressure_ns // 1000,
        degraded=response.degraded,
        **arm,
    )
