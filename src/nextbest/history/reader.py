"""Reading a history back: from a directory of segments or from Redis streams, records in
time order (to within a batch interval), torn or foreign lines skipped and counted."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import msgspec

from nextbest.errors import FieldError
from nextbest.history.file_sink import segment_paths
from nextbest.history.records import DecisionRecord, Record, decode_record

__all__ = ["HistoryReader", "check_history_source", "record_time"]


def record_time(record: Record) -> datetime:
    return record.at if isinstance(record, DecisionRecord) else record.received_at


def check_history_source(source: str) -> None:
    """Raises FieldError naming `source` when it is neither a path that exists nor a URL."""
    if "://" not in source and not Path(source).exists():
        raise FieldError(
            source, None, "not a history directory, segment file or redis:// URL: no such path"
        )


def _segment_start(path: Path) -> str:
    return path.name.split("-", 2)[1]


@dataclass
class HistoryReader:
    """`source`: a history directory, one segment file (records in time order, as the
    file sink writes them), or a `redis://` URL of the Redis sink."""

    source: str
    since: datetime | None = None
    until: datetime | None = None
    skipped: int = 0
    """Lines that were not records (a torn last line after a crash, say)."""

    def records(self) -> Iterator[Record]:
        for record in self._ordered():
            at = record_time(record)
            if self.since is not None and at < self.since:
                continue
            if self.until is not None and at >= self.until:
                continue
            yield record

    def _ordered(self) -> Iterator[Record]:
        if self.source.startswith(("redis://", "rediss://", "unix://")):
            from nextbest.history.redis_sink import read_streams

            return self._decoded(read_streams(self.source, self.since, self.until))
        path = Path(self.source)
        if path.is_file():
            return self._segment(path)
        return self._merged(segment_paths(path))

    def _decoded(self, lines: Iterable[bytes]) -> Iterator[Record]:
        for line in lines:
            try:
                yield decode_record(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                self.skipped += 1

    def _segment(self, path: Path) -> Iterator[Record]:
        with path.open("rb") as lines:
            yield from self._decoded(line.rstrip(b"\n") for line in lines if line.strip())

    def _merged(self, paths: list[Path]) -> Iterator[Record]:
        """The segments' records merged by time. Segments are opened as the merge reaches
        their start, so only the segments being written at the same time are open together."""
        waiting = sorted(paths, key=_segment_start)
        heap: list[tuple[datetime, int, Record, Iterator[Record]]] = []
        counter = 0

        def push(records: Iterator[Record]) -> None:
            nonlocal counter
            for record in records:
                counter += 1
                heapq.heappush(heap, (record_time(record), counter, record, records))
                return

        while waiting or heap:
            if not heap or (waiting and _segment_start(waiting[0]) <= _stamp(heap[0][0])):
                push(self._segment(waiting.pop(0)))
                continue
            _, _, record, records = heapq.heappop(heap)
            yield record
            push(records)


def _stamp(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%S%f")
