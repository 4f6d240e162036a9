"""Acknowledged only once replicated: `WAIT` after a script that records.

Redis replicates asynchronously: a contact the primary recorded and the service returned
may not have reached a replica when the primary dies, and the promoted replica then lacks
it (the customer can get one offer more than the cap). With `replicas` > 0, a call that
writes sends `WAIT <replicas> <timeout ms>` in the same packet, right after its EVALSHA:
still one round trip from the client's side. Redis answers WAIT once that many replicas
have acknowledged the connection's writes, or at the timeout with how many did. Fewer
than `replicas` is a failed call (`ReplicaWaitError`): the store did not answer, the
decision is degraded and its contacts released as for any call without an answer.

WAIT returns when the replicas have *received and processed* the write (with
`appendfsync always` on the replica, it is in the replica's append-only file too, since
a replica acknowledges after its own fsync); WAITAOF (Redis 7.2) would wait for fsyncs
explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.exceptions import RedisError

__all__ = ["ReplicaWait", "ReplicaWaitError"]


class ReplicaWaitError(RedisError):
    """Fewer replicas than required acknowledged a call's writes in time."""


@dataclass(frozen=True, slots=True)
class ReplicaWait:
    """`WAIT replicas <the call's budget>` after each call that writes."""

    replicas: int

    def command(self, budget_s: float) -> tuple[str, int, int]:
        """WAIT's words; its timeout ends 1 ms before the call's reply is due so that a
        shortfall comes back as an answer (the connection stays usable), never 0 (which
        would wait for ever)."""
        return ("WAIT", self.replicas, max(int(budget_s * 1000) - 1, 1))

    def check(self, acknowledged: object) -> ReplicaWaitError | None:
        """The error for WAIT's reply `acknowledged`, or None when enough replicas have the
        writes."""
        if isinstance(acknowledged, int) and acknowledged >= self.replicas:
            return None
        return ReplicaWaitError(
            f"WAIT {self.replicas}: {acknowledged!r} replicas acknowledged the write in time"
        )
