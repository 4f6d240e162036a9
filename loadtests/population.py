"""A simulated population whose truth is known: the demo's synthetic generating process
(`nextbest.training.synthetic`) as decision requests, and each (customer, offer)'s true
probability of acceptance."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nextbest.bundle import Bundle
from nextbest.decide import Context, Customer, DecisionRequest
from nextbest.training.synthetic import History, acceptance_logit

__all__ = ["NOISE_SD", "requests", "true_acceptance"]

NOISE_SD = 0.5  # the generating process's per-presentation noise


def _value(values: NDArray[Any], i: int) -> Any:
    value = values[i]
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    return value or None


def requests(population: History, limit: int = 3) -> Iterator[tuple[int, DecisionRequest]]:
    for i in range(len(population["channel"])):
        attributes = {
            "tenure_months": _value(population["tenure_months"], i),
            "churn_score": _value(population["churn_score"], i),
        }
        yield (
            i,
            DecisionRequest(
                customer=Customer(
                    id=f"SIM-{i}",
                    clv=_value(population["clv"], i),
                    lifecycle_stage=_value(population["lifecycle_stage"], i),
                    attributes={k: v for k, v in attributes.items() if v is not None},
                ),
                context=Context(
                    channel=str(population["channel"][i]),
                    call_reason=_value(population["call_reason"], i),
                    wait_time_s=_value(population["wait_time_s"], i),
                ),
                limit=limit,
            ),
        )


def true_acceptance(
    population: History, rows: NDArray[np.int64], offers: list[str], bundle: Bundle
) -> NDArray[np.float64]:
    """The true P(accept) of showing `offers[k]` to population row `rows[k]`."""
    by_id = {o.id: o for o in bundle.offers}

    def column(name: str, fill: Any) -> NDArray[Any]:
        values = population[name][rows]
        if values.dtype.kind == "f":
            return np.asarray(values, dtype=np.float64)
        return np.array([v or fill for v in values], dtype=object)

    logit = acceptance_logit(
        offer_id=np.array(offers, dtype=object),
        category=np.array([by_id[o].category for o in offers], dtype=object),
        recovery=np.array(["service_recovery" in by_id[o].tags for o in offers]),
        stage=column("lifecycle_stage", ""),
        clv=np.nan_to_num(column("clv", 0.0), nan=1100.0),
        churn=np.nan_to_num(column("churn_score", 0.0), nan=0.3),
        channel=column("channel", ""),
        reason=column("call_reason", ""),
        wait=column("wait_time_s", 0.0),
    )
    # the noise the data does not show, integrated out (probit approximation)
    return 1.0 / (1.0 + np.exp(-logit / np.sqrt(1.0 + np.pi * NOISE_SD**2 / 8.0)))
