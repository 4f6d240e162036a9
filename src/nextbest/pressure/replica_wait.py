"""Acknowledged only once replicated: `WAIT` after a script that records.

Redis replicates asynchronously: a contact the primary recorded and the service returned
may not have reached a replica when the primary dies, and the promoted replica then lacks
it (the customer can get one offer more than the cap). With `replicas` > 0, a call that
writes sends `WAIT <n> <timeout ms>` in the same packet, right after its EVALSHA: still
one round trip from the client's side. Redis answers WAIT once n replicas have
acknowledged the connection's writes, or at the timeout with how many did. Fewer than n
is a failed call (`ReplicaWaitError`): the store did not answer, the decision is degraded
and its contacts released as for any call without an answer.

n is `replicas`, or fewer when fewer replicas are online at the server (in sync with it,
as its `INFO replication` says, read every `poll_s` off the request path): a replica
that is gone cannot be promoted with the write missing, and a primary whose replicas are
all gone (a promoted replica, before the old primary rejoins) goes on serving, its
writes kept by its own append-only file. A replica that is online but does not
acknowledge (stalled, lagging past the budget) could be promoted: then the call fails.

WAIT returns when the replicas have processed the write (with `appendfsync always` on a
replica, it is in the replica's append-only file too: a replica writes and fsyncs it
before it acknowledges); WAITAOF (Redis 7.2) would wait for fsyncs explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["ReplicaWait", "ReplicaWaitError", "online_replicas"]


class ReplicaWaitError(RedisError):
    """Fewer replicas than required acknowledged a call's writes in time."""


def online_replicas(replication: dict[str, object]) -> int:
    """The replicas in sync with a server, from its `INFO replication` (as redis-py parses
    it: `slave0` -> {"state": "online", ...})."""
    return sum(
        1
        for name, value in replication.items()
        if name.startswith("slave") and isinstance(value, dict) and value.get("state") == "online"
    )


class ReplicaWait:
    """`WAIT n <the call's budget>` after each call to one server that writes: n is
    `replicas`, or the replicas online at the server when fewer."""

    def __init__(self, client: Redis, replicas: int, *, poll_s: float = 1.0) -> None:
        self._client = client
        self._replicas = replicas
        self._poll_s = poll_s
        self._online: int | None = None
        self._poll: asyncio.Task[None] | None = None

    @property
    def required(self) -> int:
        """How many replicas a write waits for now (`replicas` until the server has told)."""
        if self._online is None:
            return self._replicas
        return min(self._replicas, self._online)

    @staticmethod
    def command(required: int, budget_s: float) -> tuple[str, int, int]:
        """WAIT's words, with the call's budget as its timeout (never 0, which would wait
        for ever). The client's own timeout is what bounds the call: Redis checks a
        WAIT's timeout on its own clock (every 100 ms at the default `hz`), so a shortfall
        is mostly found by the client's timeout; Redis's only keeps the connection from
        waiting on."""
        return ("WAIT", required, max(int(budget_s * 1000), 1))

    @staticmethod
    def check(acknowledged: object, required: int) -> ReplicaWaitError | None:
        """The error for WAIT's reply `acknowledged`, or None when enough replicas have the
        writes."""
        if isinstance(acknowledged, int) and acknowledged >= required:
            return None
        return ReplicaWaitError(
            f"WAIT {required}: {acknowledged!r} replicas acknowledged the write in time"
        )

    async def watch(self) -> None:
        """Read the replicas online now (raises as the client does), then every `poll_s`
        in the background (a failed read keeps the last figure)."""
        await self._read()
        if self._poll is None:
            self._poll = asyncio.get_running_loop().create_task(self._watch())

    async def _read(self) -> None:
        self._online = online_replicas(await self._client.info("replication"))

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            with contextlib.suppress(RedisError, OSError):
                await self._read()

    async def aclose(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll
            self._poll = None
