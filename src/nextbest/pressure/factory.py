"""Choosing the contact store and its gate from the settings."""

from __future__ import annotations

from typing import cast

from nextbest.config import Settings
from nextbest.pressure.gate import DegradedMode, PressureGate
from nextbest.pressure.memory import MemoryContactStore
from nextbest.pressure.store import ContactStore

__all__ = ["open_gate"]


MAX_SCRIPT_CONNECTIONS = 64


def open_gate(settings: Settings) -> PressureGate:
    """The embedded store, or Redis (a Redis Cluster with `NEXTBEST_REDIS_CLUSTER`) when
    `NEXTBEST_REDIS_URL` is set."""
    store: ContactStore
    if settings.redis_url:
        from nextbest.pressure.redis import RedisContactStore

        store = RedisContactStore.from_url(
            settings.redis_url,
            timeout_s=max(settings.redis_budget_ms / 1000, 0.05),
            max_connections=MAX_SCRIPT_CONNECTIONS,
            # besides the decisions in flight: connections reading late replies, releases
            warm_connections=min(4 * settings.max_in_flight, MAX_SCRIPT_CONNECTIONS),
            cluster=settings.redis_cluster,
            wait_replicas=settings.wait_replicas(),
        )
    else:
        store = MemoryContactStore()
    default, per_channel = settings.degraded_modes()
    return PressureGate(
        store,
        budget_s=settings.redis_budget_ms / 1000,
        default_mode=cast(DegradedMode, default),
        degraded_modes={k: cast(DegradedMode, v) for k, v in per_channel.items()},
    )
