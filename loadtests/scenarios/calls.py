"""The call-centre agent desktop: a decision when the call starts, feedback as it goes.

A call: the customer waited in the queue (`wait_time_s`), states a reason, and the
desktop asks for three suggestions. The agent pitches the first one after some talk
(`presented`), hears the answer at once or by the end of the call (`accepted`,
`declined`, or `ignored` when the customer did not engage), sometimes goes on to the
second or third, and the ones never mentioned are `discarded` when the call ends (which
releases the contact they recorded). Shares below are plausible for a residential
energy supplier, not measured: change them here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from scenarios.customers import CustomerPool

__all__ = ["Call", "CallPlan", "plan_call"]

# Share of inbound calls per reason (a reason the bundle has but this table lacks gets
# the mean weight).
CALL_REASON_SHARES = {
    "billing_question": 24,
    "general_info": 12,
    "meter_reading": 12,
    "move_house": 11,
    "payment_issue": 10,
    "tariff_change": 9,
    "complaint": 8,
    "contract_cancellation": 7,
    "outage_report": 7,
}
# Queue wait: lognormal, median 75 s, sigma 1.0: about 8 % of callers wait over 5 minutes.
WAIT_MEDIAN_S = 75.0
WAIT_SIGMA = 1.0
# Real-time durations (seconds, lognormal medians), multiplied by the profile's time scale.
TALK_BEFORE_PITCH_S = 90.0
REST_OF_CALL_S = 150.0
AFTER_CALL_WORK_S = 30.0
LIMIT = 3
EXPLAIN_SHARE = 0.05
"""Agents open the 'why these suggestions' panel on about one call in twenty."""
# The agent reaches the first suggestion on most calls; the next only after a no.
PITCH_FIRST = 0.92
PITCH_NEXT_AFTER_NO = 0.35
# Outcome of a pitched suggestion by category: (accepted, declined, ignored).
ANSWERS = {
    "service": (0.55, 0.15, 0.30),
    "retention": (0.25, 0.50, 0.25),
    "upsell": (0.08, 0.62, 0.30),
    "cross_sell": (0.08, 0.62, 0.30),
}
_OUTCOMES = ("accepted", "declined", "ignored")


@dataclass(frozen=True)
class Call:
    body: dict[str, Any]
    """The decision request."""
    talk_s: float
    """Seconds of talk before the first pitch (scaled)."""
    rest_s: float
    """Seconds from the first pitch to the end of the call (scaled)."""
    after_call_s: float
    """Wrap-up before the agent takes the next call (scaled)."""


@dataclass(frozen=True)
class CallPlan:
    """Feedback for one decision's offers: (offer id, outcome) sent during the call
    (`pitched`, all `presented`) and when it ends (`answers`)."""

    pitched: list[str]
    answers: list[tuple[str, str]]


def _scaled(rng: random.Random, median_s: float, scale: float) -> float:
    return rng.lognormvariate(0.0, 0.5) * median_s * scale


def new_call(
    rng: random.Random,
    pool: CustomerPool,
    *,
    channel: str,
    time_scale: float,
    dry_run: bool,
) -> Call:
    """The decision request of a call that just started, and its timing."""
    vocabulary = pool.vocabulary
    reasons = vocabulary.call_reasons
    mean = sum(CALL_REASON_SHARES.values()) / len(CALL_REASON_SHARES)
    context: dict[str, Any] = {
        "channel": channel,
        "wait_time_s": round(rng.lognormvariate(0.0, WAIT_SIGMA) * WAIT_MEDIAN_S, 1),
        "placement": "agent_desktop",
    }
    if reasons:
        weights = [CALL_REASON_SHARES.get(r, mean) for r in reasons]
        context["call_reason"] = rng.choices(reasons, weights=weights)[0]
    body = {
        "customer": pool.profile(pool.draw(rng)),
        "context": context,
        "limit": LIMIT,
        "explain": rng.random() < EXPLAIN_SHARE,
        "dry_run": dry_run,
    }
    return Call(
        body=body,
        talk_s=_scaled(rng, TALK_BEFORE_PITCH_S, time_scale),
        rest_s=_scaled(rng, REST_OF_CALL_S, time_scale),
        after_call_s=_scaled(rng, AFTER_CALL_WORK_S, time_scale),
    )


def plan_call(rng: random.Random, offers: list[dict[str, Any]]) -> CallPlan:
    """What the agent does with the ranked `offers` of a decision response."""
    pitched: list[str] = []
    answers: list[tuple[str, str]] = []
    pitch = rng.random() < PITCH_FIRST
    for offer in offers:
        offer_id = offer["offer_id"]
        if not pitch:
            answers.append((offer_id, "discarded"))
            continue
        pitched.append(offer_id)
        shares = ANSWERS.get(offer["category"], ANSWERS["upsell"])
        outcome = rng.choices(_OUTCOMES, weights=shares)[0]
        answers.append((offer_id, outcome))
        pitch = outcome != "accepted" and rng.random() < PITCH_NEXT_AFTER_NO
    return CallPlan(pitched=pitched, answers=answers)
