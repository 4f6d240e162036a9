"""The shared sink: Redis Streams on the Redis that holds the caps, one stream per UTC day
(`nextbest:history:<YYYY-MM-DD>`), so that every replica writes one history.

Each record is one stream entry with the field `r` (its JSON). A day's stream expires
`retention_days` after the day ends. Consumers may read the streams with XRANGE (as
`nextbest history export` does) or with consumer groups (XREADGROUP).

On a Redis Cluster (`cluster=True`) a day's stream is one key, so one slot on one primary:
a batch is still one pipelined round trip (redis-py's cluster client sends it to the
stream's primary), and the export reads each day from its primary. The day streams are
spread over the primaries by their names' slots, not the writes of one day.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import cast

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.cluster import RedisCluster as SyncRedisCluster
from redis.exceptions import RedisError

from nextbest.history.sink import SinkError

__all__ = ["STREAM_PREFIX", "RedisStreamSink", "read_streams", "stream_key"]

STREAM_PREFIX = "nextbest:history:"
RECORD_FIELD = b"r"


def stream_key(day: date) -> str:
    return f"{STREAM_PREFIX}{day.isoformat()}"


class RedisStreamSink:
    def __init__(self, client: Redis | RedisCluster, *, retention_days: float = 30.0) -> None:
        self._client = client
        self._retention_s = int(retention_days * 86_400)
        self._expiring: set[str] = set()

    @classmethod
    def from_url(
        cls, url: str, *, retention_days: float = 30.0, cluster: bool = False
    ) -> RedisStreamSink:
        """`url` names a server, or with `cluster` any node of a Redis Cluster."""
        kind = RedisCluster if cluster else Redis
        client = kind.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        return cls(client, retention_days=retention_days)

    async def open(self) -> None:
        try:
            await self._client.ping()
        except RedisError as exc:
            raise SinkError(f"history stream: {exc}") from exc

    async def write(self, records: Sequence[bytes]) -> None:
        if not records:
            return
        today = datetime.now(UTC).date()
        key = stream_key(today)
        pipe = self._client.pipeline(transaction=False)
        for record in records:
            pipe.xadd(key, {RECORD_FIELD: record})
        if key not in self._expiring:
            day_end = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)
            pipe.expireat(key, int(day_end.timestamp()) + self._retention_s)
        try:
            await pipe.execute()
        except RedisError as exc:
            raise SinkError(f"history stream: {exc}") from exc
        self._expiring.add(key)

    async def aclose(self) -> None:
        await self._client.aclose()


def _reading_client(url: str) -> SyncRedis | SyncRedisCluster:
    """A client for the server `url` names, or for its cluster when it is a cluster's node."""
    client = SyncRedis.from_url(url)
    if not client.info("cluster").get("cluster_enabled"):
        return client
    client.close()
    return SyncRedisCluster.from_url(url)


def read_streams(url: str, since: datetime | None, until: datetime | None) -> Iterator[bytes]:
    """Every record in the day streams from `since`'s day to `until`'s (default: the
    last 400 days to today), in stream order, page by page; `url` may name a node of a
    Redis Cluster."""
    client = _reading_client(url)
    today = datetime.now(UTC).date()
    first = since.astimezone(UTC).date() if since else today - timedelta(days=400)
    last = until.astimezone(UTC).date() if until else today
    day = first
    try:
        while day <= last:
            key = stream_key(day)
            start = "-"
            while True:
                page = cast(
                    list[tuple[bytes, dict[bytes, bytes]]],
                    client.xrange(key, min=start, max="+", count=1000),
                )
                for _entry_id, fields in page:
                    yield fields[RECORD_FIELD]
                if len(page) < 1000:
                    break
                start = f"({page[-1][0].decode()}"
            day += timedelta(days=1)
    finally:
        client.close()
