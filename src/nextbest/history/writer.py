"""The background writer: decisions hand records over and never wait for the sink.

Records wait in a bounded in-process queue; every `interval_s` the writer takes all of
them and writes them as one batch. When the queue is full, or the sink fails, records are
dropped and counted, and the writer reports itself degraded until an interval passes
without a loss.
On close, the queue is flushed before the sink closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from nextbest.history.records import Record, encode_record
from nextbest.history.sink import HistorySink, SinkError

__all__ = ["HistoryWriter"]

_log = structlog.get_logger("nextbest.history")


def _ignore_drop(reason: str, count: int) -> None:
    """Default: drops are counted in `dropped` only."""


def _ignore_written(count: int) -> None:
    """Default: writes are counted in `written` only."""


class HistoryWriter:
    def __init__(
        self,
        sink: HistorySink,
        *,
        capacity: int = 10_000,
        interval_s: float = 0.1,
        on_drop: Callable[[str, int], None] | None = None,
        on_written: Callable[[int], None] | None = None,
    ) -> None:
        self.sink = sink
        self._capacity = capacity
        self._interval_s = interval_s
        self._queue: list[Record] = []
        self._on_drop = on_drop or _ignore_drop
        self._on_written = on_written or _ignore_written
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._writing = asyncio.Lock()
        self._full_since_flush = 0
        self.dropped = 0
        self.written = 0
        self.degraded = False

    def submit(self, record: Record) -> None:
        """Queue `record`; never blocks. A full queue drops it (counted)."""
        if len(self._queue) >= self._capacity:
            self.dropped += 1
            self._full_since_flush += 1
            self._on_drop("queue_full", 1)
            return
        self._queue.append(record)

    async def start(self) -> None:
        """Open the sink (SinkError when it cannot be written) and start writing."""
        await self.sink.open()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval_s)
            await self.flush()

    async def flush(self) -> None:
        """Write everything queued now, as one batch (after any batch being written)."""
        async with self._writing:
            await self._flush()

    async def _flush(self) -> None:
        lost = self._full_since_flush
        if lost:
            _log.warning("history_queue_full", dropped=lost)
            self._full_since_flush = 0
        batch, self._queue = self._queue, []
        if not batch:
            self.degraded = lost > 0
            return
        try:
            await self.sink.write([encode_record(r) for r in batch])
        except SinkError as exc:
            self.dropped += len(batch)
            self.degraded = True
            self._on_drop("sink_failed", len(batch))
            _log.warning("history_write_failed", error=str(exc), dropped=len(batch))
            return
        self.written += len(batch)
        self.degraded = lost > 0
        self._on_written(len(batch))

    async def aclose(self) -> None:
        """Stop the loop, write what is queued, close the sink."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()
        await self.sink.aclose()
