"""Request builders and waiting shared by the tests (server processes: `_servers`, in
loadtests/, and the `start_server` fixture)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from _servers import RunningServer, free_port

__all__ = [
    "DEMO_BUNDLE",
    "EditYaml",
    "StartServer",
    "decision_request",
    "free_port",
    "poll",
    "until",
    "wait_until",
]

DEMO_BUNDLE = Path(__file__).resolve().parents[1] / "models" / "demo-energy"

EditYaml = Callable[[str, Callable[[Any], Any]], None]
"""Change one YAML file of a bundle copy and re-seal it (the `edit_yaml` fixture)."""

StartServer = Callable[..., RunningServer]
"""Start a `nextbest serve` process (the `start_server` fixture)."""


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


T = TypeVar("T")


def poll(
    probe: Callable[[], T], done: Callable[[T], bool], *, timeout: float, interval: float = 0.02
) -> tuple[bool, T]:
    """Call `probe` until `done` holds for its value or `timeout` seconds have passed:
    (whether it held, the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return True, value
        if time.monotonic() > deadline:
            return False, value
        time.sleep(interval)


def wait_until(
    probe: Callable[[], T],
    done: Callable[[T], bool] = bool,
    *,
    timeout: float = 10.0,
    what: str = "the condition",
) -> T:
    """The value of `probe` once `done` holds for it; the test fails after `timeout`
    seconds. Waiting on the observable state, not on a fixed sleep."""
    held, value = poll(probe, done, timeout=timeout)
    if not held:
        pytest.fail(f"{what} did not hold within {timeout:.0f} s; last value: {value!r}")
    return value


async def until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """In a coroutine: wait, letting the other tasks run, until `condition` holds; the
    test fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:.0f} s")
        await asyncio.sleep(0.01)


def store_client(store: Any, customer_id: str) -> Any:
    """The redis-py client of the server that holds the customer's keys in a Redis store
    (on a cluster: the primary that owns the customer's slot)."""
    from nextbest.pressure.redis import customer_key_prefix
    from nextbest.pressure.redis_cluster import ClusterScripts

    scripts = store.scripts
    if isinstance(scripts, ClusterScripts):
        server = scripts.server(customer_key_prefix(customer_id))
        assert server is not None, "the cluster's slot map is not known yet"
        return server.client
    return scripts.client
