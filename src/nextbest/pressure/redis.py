"""The Redis contact store: shared by every replica, one round trip per decision.

Each call is one server-side Lua script (`lua/select.lua`, `lua/feedback.lua`) that
checks and records in one atomic step. Every key of a customer carries the customer's
hash tag (`nb:{<customer id>}:...`), so the scripts also run on Redis Cluster. The
scripts are registered once; redis-py sends EVALSHA and loads a script only when the
server does not know it (first call, or after a restart). Commands are never retried:
the decision's time budget and the circuit breaker decide what happens on failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from nextbest.pressure.store import StoreUnavailableError
from nextbest.pressure.types import CapCandidate, FeedbackEffect, Selection

__all__ = ["RedisContactStore", "customer_key_prefix"]

KEY_NAMESPACE = "nb"


def _script(name: str) -> str:
    return files("nextbest.pressure").joinpath("lua", name).read_text(encoding="utf-8")


def customer_key_prefix(customer_id: str) -> str:
    """`nb:{C-1001}:`; `%` and `}` are escaped so that the tag is the whole id."""
    tag = customer_id.replace("%", "%25").replace("}", "%7D")
    return f"{KEY_NAMESPACE}:{{{tag}}}:"


class _Keys:
    """The KEYS list of one script call: each distinct key once, referred to by index."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self.names: list[str] = []
        self.policies: list[str] = []
        self._index: dict[str, int] = {}

    def index(self, suffix: str, policy_id: str) -> int:
        """The 1-based Lua index of `<prefix><suffix>`."""
        found = self._index.get(suffix)
        if found is None:
            self.names.append(self._prefix + suffix)
            self.policies.append(policy_id)
            found = self._index[suffix] = len(self.names)
        return found


def _window(policy_id: str) -> str:
    return f"c:{policy_id}"


def _marker(marker: str) -> str:
    return f"m:{marker}"


class RedisContactStore:
    """ContactStore on a Redis server (or a Redis Cluster) shared by all replicas."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._select = client.register_script(_script("select.lua"))
        self._feedback = client.register_script(_script("feedback.lua"))

    @classmethod
    def from_url(
        cls, url: str, *, timeout_s: float = 0.05, max_connections: int = 64
    ) -> RedisContactStore:
        """A pooled client that never waits longer than `timeout_s` for a socket operation
        or for a free connection out of its `max_connections`."""
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )
        return cls(Redis.from_pool(pool))

    async def _run(self, script: Any, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}: {exc}") from exc

    async def select(
        self,
        customer_id: str,
        contact_prefix: str,
        candidates: Sequence[CapCandidate],
        limit: int,
        now_ms: int,
        record: bool,
    ) -> Selection:
        keys = _Keys(customer_key_prefix(customer_id))
        args: list[str | int] = [now_ms, limit, int(record), contact_prefix, len(candidates)]
        for candidate in candidates:
            args += [candidate.offer_id, len(candidate.caps)]
            for cap in candidate.caps:
                args += [keys.index(_window(cap.policy_id), cap.policy_id), cap.limit]
                args.append(cap.window_ms)
            args.append(len(candidate.backoffs))
            for marker in candidate.backoffs:
                args.append(keys.index(_marker(marker), marker.partition(":")[0]))
        reply = await self._run(self._select, keys.names, args)
        split = reply.index("")
        blocked = reply[split + 1 :]
        return Selection(
            tuple(reply[:split]),
            {blocked[i]: keys.policies[int(blocked[i + 1]) - 1] for i in range(0, len(blocked), 2)},
        )

    async def apply_feedback(self, customer_id: str, effect: FeedbackEffect, now_ms: int) -> bool:
        prefix = customer_key_prefix(customer_id)
        keys = [f"{prefix}fb:{effect.idempotency_key}"]
        keys += [prefix + _window(policy_id) for policy_id in effect.release_from]
        keys += [prefix + _marker(marker) for marker, _ in effect.set_markers]
        args: list[str | int] = [
            now_ms,
            effect.dedupe_ms,
            effect.contact,
            effect.idempotency_key,
            len(effect.release_from),
            len(effect.set_markers),
            *(lifetime_ms for _, lifetime_ms in effect.set_markers),
            len(effect.count_declines),
        ]
        for counter in effect.count_declines:
            keys += [f"{prefix}d:{counter.policy_id}", prefix + _marker(counter.pause_marker)]
            args += [counter.window_ms, counter.threshold, counter.pause_ms]
        applied = await self._run(self._feedback, keys, args)
        return bool(applied)

    async def ping(self) -> None:
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}: {exc}") from exc

    async def prepare(self) -> None:
        try:
            for script in (self._select, self._feedback):
                await self._client.script_load(script.script)
        except (RedisError, OSError) as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()
