"""The Redis contact store: shared by every replica, one round trip per decision.

Each call is one server-side Lua script (`lua/select.lua`, `lua/feedback.lua`,
`lua/release.lua`) that checks and records in one atomic step. Every key of a customer
carries the customer's hash tag (`nb:{<customer id>}:...`): all of a call's keys live in
one hash slot, so on a Redis Cluster the call is one EVALSHA on the primary that owns the
slot (`redis_cluster.py`). The scripts are loaded at start-up; a call sends EVALSHA (see
redis_script.py) and loads a script only when the server does not know it (after a
restart or a failover). Commands are never retried (a cluster's MOVED, ASK and TRYAGAIN
aside: the script did not run): the decision's time budget and the circuit breaker decide
what happens on failure. With `wait_replicas`, a call that records is acknowledged only
once replicated (replica_wait.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files

from redis.asyncio import Redis
from redis.exceptions import RedisError, TryAgainError

from nextbest.pressure.redis_pool import server_pool
from nextbest.pressure.redis_script import LuaScript, Reply, Script, ScriptTarget, ServerScripts
from nextbest.pressure.store import StoreBusyError, StoreUnavailableError
from nextbest.pressure.types import CapCandidate, FeedbackEffect, Selection

__all__ = ["RedisContactStore", "customer_key_prefix"]

KEY_NAMESPACE = "nb"
_MAX_CACHED_LINES = 4096


def _script(name: str) -> LuaScript:
    return LuaScript(files("nextbest.pressure").joinpath("lua", name).read_text(encoding="utf-8"))


_SELECT, _FEEDBACK, _RELEASE = map(_script, ("select.lua", "feedback.lua", "release.lua"))


def customer_key_prefix(customer_id: str) -> str:
    """`nb:{C-1001}:`; `%` and `}` are escaped so that the tag is the whole id."""
    tag = customer_id.replace("%", "%25").replace("}", "%7D")
    return f"{KEY_NAMESPACE}:{{{tag}}}:"


@dataclass(frozen=True, slots=True)
class _Line:
    """A candidate as select.lua reads it, built once per candidate: its line and the
    keys (suffix, policy id) the line names."""

    candidate: CapCandidate
    text: str
    keys: tuple[tuple[str, str], ...]


def _encode_line(candidate: CapCandidate) -> _Line:
    keys: dict[str, str] = {}
    caps = []
    for cap in candidate.caps:
        suffix = _window(cap.policy_id)
        keys.setdefault(suffix, cap.policy_id)
        caps.append(f"{suffix},{cap.limit},{cap.window_ms}")
    markers = []
    for marker in candidate.backoffs:
        suffix = _marker(marker)
        keys.setdefault(suffix, marker.partition(":")[0])
        markers.append(suffix)
    text = f"{candidate.offer_id}|{';'.join(caps)}|{';'.join(markers)}"
    return _Line(candidate, text, tuple(keys.items()))


def _window(policy_id: str) -> str:
    return f"c:{policy_id}"


def _marker(marker: str) -> str:
    return f"m:{marker}"


def _cancelled(contact_prefix: str) -> str:
    return f"x:{contact_prefix}"


class RedisContactStore:
    """ContactStore on a Redis server (or a Redis Cluster) shared by all replicas."""

    def __init__(self, scripts: ScriptTarget) -> None:
        self._scripts = scripts
        self._lines: dict[int, _Line] = {}

    def _line(self, candidate: CapCandidate) -> _Line:
        """The candidate's line, cached by identity: a bundle builds its candidates once."""
        line = self._lines.get(id(candidate))
        if line is None or line.candidate is not candidate:
            if len(self._lines) >= _MAX_CACHED_LINES:
                self._lines.clear()
            line = self._lines[id(candidate)] = _encode_line(candidate)
        return line

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout_s: float = 0.05,
        max_connections: int = 64,
        warm_connections: int = 16,
        cluster: bool = False,
        wait_replicas: int = 0,
    ) -> RedisContactStore:
        """A store that never waits longer than `timeout_s` for a socket operation or for
        a free connection out of its `max_connections` (per server); `prepare` opens
        `warm_connections` of them (per server). With `cluster`, `url` names any node of a
        Redis Cluster. With `wait_replicas`, a call that records (a decision's contacts,
        feedback, a release) succeeds only once that many replicas have it (`WAIT`,
        replica_wait.py)."""
        if cluster:
            from nextbest.pressure.redis_cluster import ClusterScripts

            return cls(
                ClusterScripts.from_url(
                    url,
                    timeout_s=timeout_s,
                    max_connections=max_connections,
                    warm_connections=warm_connections,
                    wait_replicas=wait_replicas,
                )
            )
        pool = server_pool(url, max_connections=max_connections, timeout_s=timeout_s)
        client = Redis.from_pool(pool)
        return cls(
            ServerScripts(
                client,
                max_connections=max_connections,
                warm=warm_connections,
                wait_replicas=wait_replicas,
            )
        )

    @property
    def scripts(self) -> ScriptTarget:
        """Where the scripts run (one server, or a cluster's primaries)."""
        return self._scripts

    def shard(self, customer_id: str) -> str:
        return self._scripts.shard(customer_key_prefix(customer_id))

    async def _run(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[str | int],
        budget_s: float | None = None,
        durable: bool = False,
    ) -> Reply:
        try:
            return await self._scripts.run(script, keys, args, budget_s=budget_s, durable=durable)
        except TryAgainError as exc:
            raise StoreBusyError(f"redis: slot being migrated: {exc}") from exc
        except (RedisError, OSError) as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}: {exc}") from exc

    async def _flat_list(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[str | int],
        budget_s: float | None = None,
        durable: bool = False,
    ) -> list[str | int]:
        reply = await self._run(script, keys, args, budget_s, durable)
        if not isinstance(reply, list) or not all(isinstance(r, str | int) for r in reply):
            raise StoreUnavailableError(f"redis: unexpected script reply {reply!r}")
        return [r for r in reply if isinstance(r, str | int)]

    async def _integer(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[str | int],
        budget_s: float | None = None,
    ) -> int:
        reply = await self._run(script, keys, args, budget_s, durable=True)
        if not isinstance(reply, int):
            raise StoreUnavailableError(f"redis: unexpected script reply {reply!r}")
        return reply

    async def select(
        self,
        customer_id: str,
        contact_prefix: str,
        candidates: Sequence[CapCandidate],
        limit: int,
        now_ms: int,
        record: bool,
        picks: Sequence[float] | None = None,
        budget_s: float | None = None,
    ) -> Selection:
        prefix = customer_key_prefix(customer_id)
        policy_of: dict[str, str] = {}  # a suffix always names the same policy
        lines = []
        for candidate in candidates:
            line = self._line(candidate)
            lines.append(line.text)
            policy_of.update(line.keys)
        args: list[str | int] = [now_ms, limit, int(record), contact_prefix, ";".join(policy_of)]
        args.append("\n".join(lines))
        if picks is not None:
            args.append(",".join(map(repr, picks)))
        keys = [prefix + suffix for suffix in policy_of]
        keys.append(prefix + _cancelled(contact_prefix))
        reply = await self._flat_list(_SELECT, keys, args, budget_s, durable=record)
        split = reply.index("")
        policies = list(policy_of.values())
        counts = None
        if picks is not None:
            end = reply.index("", split + 1)
            tail = reply[end + 1 :]
            counts = {policies[int(tail[i]) - 1]: int(tail[i + 1]) for i in range(0, len(tail), 2)}
            reply = reply[:end]
        blocked = reply[split + 1 :]
        return Selection(
            tuple(str(offer) for offer in reply[:split]),
            {str(blocked[i]): policies[int(blocked[i + 1]) - 1] for i in range(0, len(blocked), 2)},
            counts,
        )

    async def release(
        self,
        customer_id: str,
        contact_prefix: str,
        candidates: Sequence[CapCandidate],
        now_ms: int,
    ) -> int:
        windows: dict[str, int] = {}
        contacts: list[str | int] = []
        for candidate in candidates:
            if candidate.caps:
                contacts.append(f"{contact_prefix}:{candidate.offer_id}")
            for cap in candidate.caps:
                windows[cap.policy_id] = max(windows.get(cap.policy_id, 0), cap.window_ms)
        if not windows:
            return 0
        prefix = customer_key_prefix(customer_id)
        keys = [prefix + _cancelled(contact_prefix)]
        keys += [prefix + _window(policy_id) for policy_id in windows]
        args = [now_ms, max(windows.values()), *contacts]
        return await self._integer(_RELEASE, keys, args)

    async def apply_feedback(
        self,
        customer_id: str,
        effect: FeedbackEffect,
        now_ms: int,
        budget_s: float | None = None,
    ) -> bool:
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
        return bool(await self._integer(_FEEDBACK, keys, args, budget_s))

    async def ping(self) -> None:
        try:
            await self._scripts.ping()
        except (RedisError, OSError) as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}: {exc}") from exc

    async def prepare(self) -> None:
        try:
            await self._scripts.prepare((_SELECT, _FEEDBACK, _RELEASE))
        except (RedisError, OSError) as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        await self._scripts.aclose()
