"""The background writer: decisions never wait for it, and what it cannot write is counted."""

from __future__ import annotations

import asyncio
from pathlib import Path

from history_records import decision
from nextbest.history.file_sink import FileSink
from nextbest.history.reader import HistoryReader
from nextbest.history.redis_sink import RedisStreamSink
from nextbest.history.writer import HistoryWriter
from redis_server import RedisClusterNodes, RedisServer


def test_a_full_queue_drops_and_counts_without_waiting(tmp_path: Path) -> None:
    drops: list[tuple[str, int]] = []

    async def run() -> tuple[HistoryWriter, bool]:
        writer = HistoryWriter(
            FileSink(tmp_path),
            capacity=100,
            interval_s=60,
            on_drop=lambda r, n: drops.append((r, n)),
        )
        await writer.start()
        for n in range(150):
            writer.submit(decision(n))  # synchronous: no await, nothing to wait for
        await writer.flush()
        degraded_after_losing = writer.degraded
        await writer.flush()
        await writer.aclose()
        return writer, degraded_after_losing

    writer, degraded_after_losing = asyncio.run(run())
    assert writer.dropped == 50
    assert drops == [("queue_full", 1)] * 50
    assert len(list(HistoryReader(str(tmp_path)).records())) == 100
    assert degraded_after_losing
    assert not writer.degraded  # an interval without losses


def test_a_failing_sink_counts_its_batch_and_recovers(redis_server: RedisServer) -> None:
    async def run() -> tuple[int, int, bool, bool]:
        writer = HistoryWriter(RedisStreamSink.from_url(redis_server.url), interval_s=60)
        await writer.start()
        writer.submit(decision(1))
        await writer.flush()
        redis_server.stop()
        writer.submit(decision(2))
        writer.submit(decision(3))
        await writer.flush()
        failed = writer.degraded
        redis_server.start()
        writer.submit(decision(4))
        await writer.flush()
        await writer.aclose()
        return writer.written, writer.dropped, failed, writer.degraded

    written, dropped, failed, degraded = asyncio.run(run())
    assert (written, dropped, failed, degraded) == (2, 2, True, False)


def test_the_redis_sink_writes_day_streams_that_expire(redis_server: RedisServer) -> None:
    records = [decision(n) for n in range(30)]

    async def run() -> None:
        writer = HistoryWriter(
            RedisStreamSink.from_url(redis_server.url, retention_days=2), interval_s=60
        )
        await writer.start()
        for record in records:
            writer.submit(record)
        await writer.aclose()

    asyncio.run(run())
    assert list(HistoryReader(redis_server.url).records()) == records
    with redis_server.client() as client:
        (key,) = client.keys("nextbest:history:*")
        assert 2 * 86_400 < client.ttl(key) <= 3 * 86_400


def test_the_redis_sink_writes_and_exports_on_a_redis_cluster(
    redis_cluster: RedisClusterNodes,
) -> None:
    records = [decision(n) for n in range(30)]

    async def run() -> None:
        sink = RedisStreamSink.from_url(redis_cluster.url, cluster=True)
        writer = HistoryWriter(sink, interval_s=60)
        await writer.start()
        for record in records:
            writer.submit(record)
        await writer.aclose()

    asyncio.run(run())
    assert list(HistoryReader(redis_cluster.url).records()) == records
    holding = []
    for port in redis_cluster.primaries():
        with redis_cluster.client(port) as client:
            holding += [(port, key) for key in client.keys("nextbest:history:*")]
    assert len(holding) == 1, "a day's stream is one key on one primary"
