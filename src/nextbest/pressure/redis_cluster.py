"""The store's scripts on a Redis Cluster: one EVALSHA straight to the primary that owns the
customer's hash slot.

redis-py's cluster client (`RedisCluster`) discovers the cluster: its nodes and which
primary owns each of the 16,384 hash slots. Every key a call names carries the customer's
hash tag, so a call has one slot; it is sent over a connection of that primary's own
`ServerScripts` (its ScriptRunner, opened at start-up as for one server): one round trip,
without redis-py's command path.

When the cluster changes (a failover promotes a replica, slots are resharded), the old
owner answers MOVED (the script did not run) or does not answer at all. A MOVED call is
sent once more, to the node the reply names; a slot being migrated answers ASK and the
call is sent once more with ASKING to the importing node, or TRYAGAIN (the call's keys
are not all on one node: the script did not run) and the call is sent again shortly,
within its budget, else fails as StoreBusyError (redis.py). Any of them, and every call that
could not reach its node, starts a refresh of the slot map in the background (at most one
at a time, at most every `refresh_gap_s`): a new primary gets the scripts and its
connections there, before calls are routed to it. A primary that has not heard of a
script (a promoted replica: SCRIPT LOAD is not replicated) is handled by the runner's
NOSCRIPT path.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Sequence

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from nextbest.pressure.redis_pool import server_pool
from nextbest.pressure.redis_script import Reply, Script, ServerScripts

__all__ = ["ClusterScripts"]

_TOPOLOGY_TIMEOUT_S = 1.0
"""Slot-map queries run off the request path; a slow node should not fail them."""

_TRYAGAIN_PAUSE_S = 0.002
"""Between the tries of a call answered TRYAGAIN: moving one slot's keys takes a few ms."""
_TRYAGAIN_S = 0.05
"""How long a call without a budget of its own (feedback, release) tries again."""

ServerFactory = Callable[[str, int], ServerScripts]

_CLUSTER_ERRORS: dict[str, type[ResponseError]] = {
    "MOVED": MovedError,
    "ASK": AskError,
    "TRYAGAIN": TryAgainError,
    "CLUSTERDOWN": ClusterDownError,
}


def _cluster_error(error: ResponseError) -> ResponseError:
    """The error as redis-py's cluster client types it: a plain connection's parser types
    MOVED and ASK in redis-py 8, not in 5 (there, only the cluster client's parser does)."""
    code, _, rest = str(error).partition(" ")
    kind = _CLUSTER_ERRORS.get(code)
    return kind(rest) if kind is not None and type(error) is ResponseError else error


class ClusterScripts:
    """ScriptTarget on a Redis Cluster: routes each call to its slot's primary."""

    def __init__(
        self,
        cluster: RedisCluster,
        server: ServerFactory,
        *,
        refresh_gap_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cluster = cluster
        self._server = server
        self._refresh_gap_s = refresh_gap_s
        self._clock = clock
        self._servers: dict[str, ServerScripts] = {}
        self._unprepared: set[str] = set()
        """Primaries not prepared yet (first met in a redirect, or their preparation
        failed): prepared when a slot map names them."""
        self._owners: list[str] = [""] * REDIS_CLUSTER_HASH_SLOTS
        self._moved: dict[int, str] = {}
        """Slot -> the primary a MOVED named, until a slot map read agrees (a node asked
        for the map may not have heard of the failover yet)."""
        self._scripts: Sequence[Script] = ()
        self._initialised = False
        self._refresh: asyncio.Task[None] | None = None
        self._last_refresh = -math.inf

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout_s: float = 0.05,
        max_connections: int = 64,
        warm_connections: int = 16,
        wait_replicas: int = 0,
    ) -> ClusterScripts:
        """`url` names any node of the cluster (its credentials, TLS and settings apply to
        every node); each primary gets a pool as one server would (see `server_pool`), and
        a call that records is acknowledged once `wait_replicas` of its replicas have it."""
        cluster = RedisCluster.from_url(
            url,
            socket_timeout=_TOPOLOGY_TIMEOUT_S,
            socket_connect_timeout=_TOPOLOGY_TIMEOUT_S,
            require_full_coverage=False,
        )

        def server(host: str, port: int) -> ServerScripts:
            pool = server_pool(
                url, max_connections=max_connections, timeout_s=timeout_s, host=host, port=port
            )
            return ServerScripts(
                Redis.from_pool(pool),
                max_connections=max_connections,
                warm=warm_connections,
                wait_replicas=wait_replicas,
            )

        return cls(cluster, server)

    @property
    def primaries(self) -> list[str]:
        """The nodes (`host:port`) that own slots, as last seen."""
        return sorted({name for name in self._owners if name})

    def shard(self, key: str) -> str:
        return self._owners[key_slot(key.encode())]

    def server(self, key: str) -> ServerScripts | None:
        """The primary that owns `key`'s slot, as last seen."""
        return self._servers.get(self.shard(key))

    async def run(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[str | int],
        *,
        budget_s: float | None = None,
        durable: bool = False,
    ) -> Reply:
        """With `budget_s`, waiting for the slot map (an unprepared store) is bounded by
        it too; a redirected call is a round trip of its own, with the same budget
        (redirects happen only while a slot moves or a replica takes over). A call
        answered TRYAGAIN (its slot is being migrated and its keys are split between the
        two nodes, or not all there: the script did not run) is sent again every
        `_TRYAGAIN_PAUSE_S` while half the budget (without one, of `_TRYAGAIN_S`) is
        left, so that the last try has time to answer rather than time out."""
        loop = asyncio.get_running_loop()
        total = _TRYAGAIN_S if budget_s is None else budget_s
        until = loop.time() + total
        while True:
            try:
                return await self._run_once(script, keys, args, budget_s, durable)
            except TryAgainError:
                if loop.time() + _TRYAGAIN_PAUSE_S > until - total / 2:
                    raise
                await asyncio.sleep(_TRYAGAIN_PAUSE_S)
                if budget_s is not None:
                    budget_s = until - loop.time()

    async def _run_once(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[str | int],
        budget_s: float | None,
        durable: bool,
    ) -> Reply:
        server = self.server(keys[0])
        if server is None:  # no map yet (not prepared: the cluster was down at start-up)
            self.refresh_soon()
            if self._refresh is not None and not self._refresh.done():
                async with asyncio.timeout(budget_s):
                    await asyncio.shield(self._refresh)
            server = self.server(keys[0])
            if server is None:
                raise RedisConnectionError(f"no primary known for the slot of {keys[0]!r}")
        try:
            try:
                return await server.runner.run(
                    script, keys, args, budget_s=budget_s, durable=durable
                )
            except ResponseError as exc:
                error = _cluster_error(exc)
                if isinstance(error, MovedError):  # the script did not run: once more, there
                    self.refresh_soon()
                    self._owners[error.slot_id] = self._moved[error.slot_id] = (
                        f"{error.host}:{error.port}"
                    )
                    return await self._redirected(error).runner.run(
                        script, keys, args, budget_s=budget_s, durable=durable
                    )
                if isinstance(error, AskError):
                    return await self._redirected(error).runner.run(
                        script, keys, args, asking=True, budget_s=budget_s, durable=durable
                    )
                raise error from None
        except ResponseError as exc:  # here, or from the node a redirect named
            error = _cluster_error(exc)
            if isinstance(error, ClusterDownError | TryAgainError | ReadOnlyError):
                self.refresh_soon()  # the map may be old
            raise error from None
        except (RedisConnectionError, RedisTimeoutError, OSError):
            self.refresh_soon()
            raise

    def _redirected(self, error: AskError) -> ServerScripts:
        name = f"{error.host}:{error.port}"
        server = self._servers.get(name)
        if server is None:  # a node the map does not know yet: connect on this call
            server = self._servers[name] = self._server(error.host, int(error.port))
            self._unprepared.add(name)
        return server

    async def prepare(self, scripts: Sequence[Script]) -> None:
        """Read the slot map; load `scripts` and open the connections on every primary."""
        self._scripts = tuple(scripts)
        await self._read_slot_map(prepare_all=True)

    def refresh_soon(self) -> None:
        """Read the slot map again in the background, unless that is under way or was done
        less than `refresh_gap_s` ago."""
        if self._refresh is not None and not self._refresh.done():
            return
        if self._clock() - self._last_refresh < self._refresh_gap_s:
            return
        self._last_refresh = self._clock()
        self._refresh = asyncio.get_running_loop().create_task(self._quiet_refresh())

    async def _quiet_refresh(self) -> None:
        with contextlib.suppress(RedisError, OSError):  # the next failing call tries again
            await self._read_slot_map(prepare_all=False)
        self._last_refresh = self._clock()
        if self._moved:  # the map read was older than a MOVED: read it again shortly
            asyncio.get_running_loop().call_later(self._refresh_gap_s, self.refresh_soon)

    async def _read_slot_map(self, *, prepare_all: bool) -> None:
        """Ask the cluster which primary owns each slot; prepare the primaries (all of
        them, or those not seen before) and then route calls by the new map."""
        try:
            if self._initialised:
                await self._cluster.nodes_manager.initialize()
            else:
                await self._cluster.initialize()
                self._initialised = True
        except RedisClusterException as exc:  # no node answered, or they disagree
            raise RedisConnectionError(f"cluster slot map: {exc}") from exc
        owners = [""] * REDIS_CLUSTER_HASH_SLOTS
        to_prepare: dict[str, ServerScripts] = {}
        for slot, nodes in self._cluster.nodes_manager.slots_cache.items():
            primary = nodes[0]
            owners[slot] = primary.name
            server = self._servers.get(primary.name)
            if server is None:
                server = self._servers[primary.name] = self._server(primary.host, int(primary.port))
                to_prepare[primary.name] = server
            elif prepare_all or primary.name in self._unprepared:
                to_prepare[primary.name] = server
        self._moved = {slot: name for slot, name in self._moved.items() if owners[slot] != name}
        for slot, name in self._moved.items():
            owners[slot] = name
        if prepare_all:  # start-up: route at once, even before every connection is open
            self._owners = owners
        outcomes = await asyncio.gather(
            *(server.prepare(self._scripts) for server in to_prepare.values()),
            return_exceptions=True,
        )
        self._owners = owners
        failures = []
        for name, outcome in zip(to_prepare, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failures.append(outcome)
                self._unprepared.add(name)  # the next slot map read tries again
            else:
                self._unprepared.discard(name)
        if prepare_all and failures:
            raise failures[0]

    async def ping(self) -> None:
        """Every primary answers; raises as the first one that does not."""
        try:
            if not self.primaries:
                await self._read_slot_map(prepare_all=False)
            await asyncio.gather(*(self._servers[name].ping() for name in self.primaries))
        except (RedisError, OSError):
            self.refresh_soon()
            raise

    async def aclose(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh
        for server in self._servers.values():
            await server.aclose()
        self._servers.clear()
        await self._cluster.aclose()
