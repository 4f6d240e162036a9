"""Request builders shared by the tests."""

from __future__ import annotations

from typing import Any


def decision_request(
    *,
    customer_id: str = "C-1001",
    channel: str = "call_center",
    call_reason: str | None = None,
    wait_time_s: float | None = None,
    stage: str | None = None,
    clv: float | None = None,
    customer_attributes: dict[str, Any] | None = None,
    limit: int = 3,
    explain: bool = False,
) -> dict[str, Any]:
    customer: dict[str, Any] = {"id": customer_id}
    if clv is not None:
        customer["clv"] = clv
    if stage is not None:
        customer["lifecycle_stage"] = stage
    if customer_attributes is not None:
        customer["attributes"] = customer_attributes
    context: dict[str, Any] = {"channel": channel}
    if call_reason is not None:
        context["call_reason"] = call_reason
    if wait_time_s is not None:
        context["wait_time_s"] = wait_time_s
    return {
        "customer": customer,
        "context": context,
        "limit": limit,
        "explain": explain,
        "dry_run": True,
    }
