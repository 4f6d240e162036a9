"""A seeded synthetic response history for the demo bundle (one row per presentation).

The generating process encodes what the call centre knows (see DOMAIN.md):
complaint and contract_cancellation callers, and callers who waited over 300 s,
rarely accept sales (upsell/cross_sell) offers but do take the service_recovery
offers; loyal customers accept up-sells; new customers take app_onboarding and
paperless_billing; movers (move_house) take cross-sell, gas_supply and
broadband_bundle most; a high churn_score, at_risk or contract_cancellation raises
retention; payment_issue -> payment_plan, outage_report -> outage_status_update,
meter_reading -> smart_meter. Base acceptance is a few per cent. Web rows have no
call reason ("") and no wait time (NaN); about 5 % of clv/tenure/churn_score are NaN
and about 2 % of lifecycle stages and call reasons are "", as in real exports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nextbest.training.catalogue import OfferInfo, Vocabulary

__all__ = ["History", "acceptance_logit", "generate_demo_history"]

History = dict[str, NDArray[Any]]
"""Columnar rows: one array per feature name, plus ``accepted`` (int8, 0/1)."""

_CHANNEL_WEIGHT = {"call_center": 0.6, "web": 0.4}
_STAGE_WEIGHT = {"new": 0.14, "growing": 0.28, "loyal": 0.30, "at_risk": 0.16, "lapsed": 0.12}
_REASON_WEIGHT = {
    "billing_question": 0.20,
    "complaint": 0.09,
    "move_house": 0.12,
    "tariff_change": 0.09,
    "meter_reading": 0.12,
    "outage_report": 0.06,
    "contract_cancellation": 0.07,
    "payment_issue": 0.10,
    "general_info": 0.15,
}
# Call reasons are more likely in some stages (multipliers on the weights above).
_REASON_BY_STAGE = {
    "new": {"general_info": 1.5, "billing_question": 1.3, "contract_cancellation": 0.5},
    "loyal": {"complaint": 0.6, "contract_cancellation": 0.4},
    "at_risk": {"complaint": 2.0, "contract_cancellation": 3.0},
    "lapsed": {"contract_cancellation": 1.5, "payment_issue": 1.5},
}
# (min, max) tenure in months, and mean log CLV (EUR), per lifecycle stage.
_TENURE = {"new": (0, 6), "growing": (6, 36), "loyal": (36, 180), "at_risk": (6, 120)}
_LOG_CLV = {"new": 6.6, "growing": 6.9, "loyal": 7.5, "at_risk": 7.0, "lapsed": 6.2}
# Beta(a, b) of the churn score per lifecycle stage.
_CHURN_BETA = {
    "new": (2.0, 6.0),
    "growing": (2.0, 7.0),
    "loyal": (1.5, 10.0),
    "at_risk": (6.0, 3.0),
    "lapsed": (5.0, 3.0),
}
_BASE_LOGIT = {"upsell": -3.3, "cross_sell": -3.6, "retention": -3.8, "service": -3.1}
_SALES = ("upsell", "cross_sell")
_MISSING_NUMERIC = 0.05
_MISSING_CATEGORICAL = 0.02
_LONG_WAIT_S = 300.0


def _weights(values: Sequence[str], table: Mapping[str, float]) -> NDArray[np.float64]:
    """Sampling probabilities for ``values``; names the table lacks get the mean weight."""
    default = float(np.mean(list(table.values())))
    w = np.array([table.get(v, default) for v in values], dtype=np.float64)
    normalised: NDArray[np.float64] = w / w.sum()
    return normalised


def _pick(values: Sequence[str], codes: NDArray[np.int64]) -> NDArray[np.object_]:
    return np.array(values, dtype=object)[codes]


def acceptance_logit(
    *,
    offer_id: NDArray[np.object_],
    category: NDArray[np.object_],
    recovery: NDArray[np.bool_],
    stage: NDArray[np.object_],
    clv: NDArray[np.float64],
    churn: NDArray[np.float64],
    channel: NDArray[np.object_],
    reason: NDArray[np.object_],
    wait: NDArray[np.float64],
) -> NDArray[np.float64]:
    """The generating process's log-odds of acceptance for each row (the presented offer,
    with its `service_recovery` tag, and the customer and contact), before the per-row
    noise that the data does not show. The ground truth of simulations."""
    logit = np.array([_BASE_LOGIT.get(c, -3.4) for c in category], dtype=np.float64)

    def add(mask: NDArray[np.bool_], effect: float | NDArray[np.float64]) -> None:
        nonlocal logit
        logit = logit + np.where(mask, effect, 0.0)

    sales = np.isin(category, _SALES)
    upsell, cross, retention = (
        category == "upsell",
        category == "cross_sell",
        category == "retention",
    )
    long_wait = np.nan_to_num(wait, nan=0.0) > _LONG_WAIT_S
    log_clv = np.log(clv) - 7.0
    loyal, new, growing = stage == "loyal", stage == "new", stage == "growing"
    at_risk, lapsed = stage == "at_risk", stage == "lapsed"

    add(sales & np.isin(reason, ["complaint", "contract_cancellation"]), -2.2)
    add(sales & long_wait, -1.8)
    add(sales, -0.0015 * np.minimum(np.nan_to_num(wait, nan=0.0), _LONG_WAIT_S))
    add(upsell & loyal, 1.0)
    add(upsell & growing, 0.3)
    add(upsell & new, -0.6)
    add(cross & new, -0.4)
    add(upsell, 0.35 * log_clv)
    add(np.isin(offer_id, ["solar_consultation", "heat_pump_consultation"]), 0.4 * log_clv)
    add((offer_id == "app_onboarding") & new, 2.0)
    add((offer_id == "app_onboarding") & growing, 0.8)
    add((offer_id == "paperless_billing") & new, 1.5)
    add((offer_id == "paperless_billing") & growing, 0.5)
    move = reason == "move_house"
    add(move & cross, 1.0)
    add(move & (offer_id == "gas_supply"), 1.0)
    add(move & (offer_id == "broadband_bundle"), 0.8)
    add((reason == "tariff_change") & upsell, 0.8)
    add(retention, 3.0 * (churn - 0.35))
    add(retention & at_risk, 0.7)
    add(retention & (reason == "contract_cancellation"), 1.6)
    add(retention & loyal, -0.5)
    winback = offer_id == "winback_welcome_back"
    add(winback, np.where(lapsed, 2.2, -1.5))
    add((offer_id == "payment_plan") & (reason == "payment_issue"), 3.0)
    add((offer_id == "payment_plan") & (reason == "billing_question"), 0.8)
    add((offer_id == "billing_explanation") & (reason == "billing_question"), 2.0)
    outage = offer_id == "outage_status_update"
    add(outage, np.where(reason == "outage_report", 3.5, -1.0))
    complaint = reason == "complaint"
    add(recovery, np.where(complaint | long_wait, 2.6 * complaint + 1.8 * long_wait, -1.2))
    meter = reason == "meter_reading"
    add(meter & (offer_id == "smart_meter"), 2.0)
    add(meter & (offer_id == "app_onboarding"), 0.7)
    add(channel == "web", -0.2)
    return logit


def generate_demo_history(
    offers: Sequence[OfferInfo], vocabulary: Vocabulary, n_rows: int, seed: int
) -> History:
    """Generate ``n_rows`` seeded presentations with an ``accepted`` 0/1 outcome."""
    if n_rows <= 0:
        raise ValueError("n_rows must be positive")
    rng = np.random.default_rng(seed)
    channels, stages, reasons = (
        vocabulary.channels,
        vocabulary.lifecycle_stages,
        vocabulary.call_reasons,
    )

    # --- the customer
    stage_code = rng.choice(len(stages), size=n_rows, p=_weights(stages, _STAGE_WEIGHT))
    stage = _pick(stages, stage_code)
    tenure = np.empty(n_rows, dtype=np.float64)
    clv = np.empty(n_rows, dtype=np.float64)
    churn = np.empty(n_rows, dtype=np.float64)
    for i, name in enumerate(stages):
        rows = np.flatnonzero(stage_code == i)
        lo, hi = _TENURE.get(name, (12, 120))
        tenure[rows] = rng.integers(lo, hi, endpoint=True, size=rows.size)
        clv[rows] = rng.lognormal(_LOG_CLV.get(name, 6.9), 0.6, size=rows.size)
        a, b = _CHURN_BETA.get(name, (2.0, 5.0))
        churn[rows] = rng.beta(a, b, size=rows.size)

    # --- the contact: channel, call reason (calls only), queue wait (calls only)
    channel_code = rng.choice(len(channels), size=n_rows, p=_weights(channels, _CHANNEL_WEIGHT))
    channel = _pick(channels, channel_code)
    is_call = channel == "call_center"
    reason = np.full(n_rows, "", dtype=object)
    for i, name in enumerate(stages):
        rows = np.flatnonzero((stage_code == i) & is_call)
        table = dict(_REASON_WEIGHT)
        for r, factor in _REASON_BY_STAGE.get(name, {}).items():
            table[r] = table[r] * factor
        reason[rows] = _pick(
            reasons, rng.choice(len(reasons), size=rows.size, p=_weights(reasons, table))
        )
    # Mostly short waits, a heavier tail (peak hours) well past 300 s.
    peak = rng.random(n_rows) < 0.15
    wait = np.where(peak, rng.exponential(320.0, n_rows), rng.exponential(90.0, n_rows))
    wait = np.where(is_call, np.round(wait), np.nan)
    cancelling = reason == "contract_cancellation"
    churn = np.where(cancelling, np.minimum(churn + 0.25, 1.0), churn)

    # --- the offer presented: uniform among the offers available on the row's channel
    offer_code = np.empty(n_rows, dtype=np.int64)
    for i, name in enumerate(channels):
        rows = np.flatnonzero(channel_code == i)
        eligible = np.array([k for k, o in enumerate(offers) if name in o.channels], dtype=np.int64)
        if eligible.size == 0:
            raise ValueError(f"no offer is available on channel {name!r}")
        offer_code[rows] = eligible[rng.integers(0, eligible.size, size=rows.size)]
    offer_id = _pick([o.id for o in offers], offer_code)
    category = _pick([o.category for o in offers], offer_code)
    recovery = np.array(["service_recovery" in o.tags for o in offers])[offer_code]

    # --- the response
    logit = acceptance_logit(
        offer_id=offer_id,
        category=category,
        recovery=recovery,
        stage=stage,
        clv=clv,
        churn=churn,
        channel=channel,
        reason=reason,
        wait=wait,
    )
    logit = logit + rng.normal(0.0, 0.5, n_rows)  # what the data does not show
    accepted = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)

    # --- what the export loses: values missing at random, after the fact
    def hide(values: NDArray[np.float64]) -> NDArray[np.float32]:
        return np.where(rng.random(n_rows) < _MISSING_NUMERIC, np.nan, values).astype(np.float32)

    def blank(values: NDArray[np.object_]) -> NDArray[np.object_]:
        return np.where(rng.random(n_rows) < _MISSING_CATEGORICAL, "", values).astype(object)

    return {
        "clv": hide(np.round(clv)),
        "lifecycle_stage": blank(stage),
        "tenure_months": hide(tenure),
        "churn_score": hide(np.round(churn, 3)),
        "channel": channel,
        "call_reason": blank(reason),
        "wait_time_s": wait.astype(np.float32),
        "offer_id": offer_id,
        "category": category,
        "accepted": accepted,
    }
