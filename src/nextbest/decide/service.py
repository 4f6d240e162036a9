"""A whole decision: the ranking, then contact pressure against the store, then the answer."""

from __future__ import annotations

import time

from nextbest.decide.decider import Decider, Decision
from nextbest.decide.types import DecisionRequest
from nextbest.pressure.gate import PressureGate

__all__ = ["DEGRADED_CONTACT_PRESSURE", "decide_with_pressure"]

DEGRADED_CONTACT_PRESSURE = "contact_pressure"


async def decide_with_pressure(
    decider: Decider, gate: PressureGate, request: DecisionRequest
) -> Decision:
    """Rank, then take the top `limit` that the caps allow; unless `dry_run`, the offers
    returned are recorded as contacts in the same atomic store call as the check."""
    ranking = await decider.rank_together(request)
    started = time.perf_counter_ns()
    result = await gate.select(
        decider.bundle.policies,
        request.customer.id,
        request.context.channel,
        ranking.decision_id,
        ranking.order,
        request.limit,
        record=not request.dry_run,
    )
    ranking.timings.pressure_ns = time.perf_counter_ns() - started
    degraded = [DEGRADED_CONTACT_PRESSURE] if result.degraded else []
    return decider.finish(ranking, result.selected, result.blocked, degraded)
