"""`NEXTBEST_REDIS_WAIT_REPLICAS`: a call that records is acknowledged only once the
replicas online at the server have it; a WAIT that falls short is a store that did not
answer. One redis-server, with a replica of its own when the test needs one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nextbest.bundle import Bundle
from nextbest.pressure import StoreUnavailableError
from nextbest.pressure.breaker import CircuitBreaker
from nextbest.pressure.gate import GateResult, PressureGate
from nextbest.pressure.redis import RedisContactStore, customer_key_prefix
from nextbest.pressure.replica_wait import online_replicas
from nextbest.pressure.types import FeedbackEffect
from redis_server import RedisServer

BUDGET_S = 0.05


@pytest.fixture
def replica(redis_server: RedisServer, tmp_path: Path) -> Iterator[RedisServer]:
    """A replica of `redis_server`, in sync with it and acknowledging; when the test is
    over, gone, and the primary knows it."""
    with redis_server.client() as primary:
        primary.config_set("repl-diskless-sync-delay", 0)  # sync at once
        server = RedisServer(tmp_path, replica_of=redis_server.port)
        server.start()
        try:
            _until(lambda: online_replicas(primary.info("replication")) == 1)
            primary.set("probe", 1)
            assert primary.execute_command("WAIT", 1, 5000) == 1
            primary.delete("probe")
            yield server
        finally:
            server.stop()
            _until(lambda: primary.info("replication")["connected_slaves"] == 0)


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the replica did not sync, or did not go"
        time.sleep(0.01)


def _recorded(server: RedisServer, customer: str) -> set[str]:
    with server.client() as client:
        return {
            member
            for key in client.keys(f"{customer_key_prefix(customer)}c:*")
            for member in client.zrange(key, 0, -1)
        }


def _scenario(
    server: RedisServer, demo_bundle: Bundle, wait_replicas: int
) -> tuple[GateResult, GateResult, bool]:
    ranked = [o.id for o in demo_bundle.offers if "web" in o.channels]

    async def scenario() -> tuple[GateResult, GateResult, bool]:
        store = RedisContactStore.from_url(
            server.url, timeout_s=0.5, warm_connections=2, wait_replicas=wait_replicas
        )
        gate = PressureGate(store, budget_s=BUDGET_S, breaker=CircuitBreaker(failures_to_open=100))
        await store.prepare()
        recorded = await gate.select(demo_bundle.policies, "C-w", "web", "d1", ranked, 3, True)
        looked = await gate.select(demo_bundle.policies, "C-w", "web", "d2", ranked, 3, False)
        effect = FeedbackEffect("event-1", "d1:x", set_markers=(("no_repeat:x", 1000),))
        try:
            await gate.feedback("C-w", effect, 1_800_000_000_000)
            feedback_written = True
        except StoreUnavailableError:
            feedback_written = False
        await gate.aclose(release_grace_s=0.3)
        return recorded, looked, feedback_written

    return asyncio.run(scenario())


def test_a_write_a_stalled_replica_did_not_acknowledge_is_degraded_and_taken_back(
    redis_server: RedisServer, replica: RedisServer, demo_bundle: Bundle
) -> None:
    replica.pause()  # online for its primary, acknowledging nothing
    recorded, looked, feedback_written = _scenario(redis_server, demo_bundle, 1)
    assert recorded.degraded_mode == "fail_closed"
    assert (recorded.store_error or "").startswith("StoreUnavailableError: ")
    assert not any(demo_bundle.policies.needs_check("web", o) for o in recorded.selected)
    assert _recorded(redis_server, "C-w") == set(), "the release ran on the primary"
    assert looked.degraded_mode is None, "a call that records nothing does not wait"
    assert not feedback_written


@pytest.mark.parametrize("with_replica", [True, False])
def test_a_write_is_acknowledged_once_the_replicas_online_have_it(
    redis_server: RedisServer,
    demo_bundle: Bundle,
    request: pytest.FixtureRequest,
    with_replica: bool,
) -> None:
    """With a replica in sync, WAIT 1 is met; with none online (a promoted replica whose
    old primary has not rejoined), there is nothing to wait for: the write is served."""
    if with_replica:
        request.getfixturevalue("replica")
    recorded, looked, feedback_written = _scenario(redis_server, demo_bundle, 1)
    assert recorded.degraded_mode is None
    capped = {o for o in recorded.selected if demo_bundle.policies.needs_check("web", o)}
    assert capped
    assert _recorded(redis_server, "C-w") == {f"d1:{o}" for o in capped}
    assert looked.degraded_mode is None
    assert feedback_written
