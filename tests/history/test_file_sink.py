"""The embedded sink: segments written, rotated, pruned and read back, torn tails skipped."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from history_records import T0, decision
from nextbest.history.file_sink import FileSink, segment_paths
from nextbest.history.reader import HistoryReader
from nextbest.history.records import (
    SCHEMA_VERSION,
    Record,
    ResponseRecord,
    decode_record,
    encode_record,
)
from nextbest.history.sink import SinkError


def test_records_round_trip_with_their_schema_version() -> None:
    response = ResponseRecord(
        decision_id="d1",
        offer_id="green_tariff",
        customer_id="C-1",
        channel="web",
        outcome="accepted",
        occurred_at=T0,
        received_at=T0 + timedelta(seconds=1),
        key="k1",
    )
    for record in (decision(1), response):
        line = encode_record(record)
        assert b'"v":%d' % SCHEMA_VERSION in line
        assert decode_record(line) == record


def _write(sink: FileSink, batches: list[list[Record]]) -> None:
    async def run() -> None:
        await sink.open()
        for batch in batches:
            await sink.write([encode_record(r) for r in batch])
        await sink.aclose()

    asyncio.run(run())


def test_every_record_is_read_back_in_order(tmp_path: Path) -> None:
    records = [decision(n) for n in range(50)]
    _write(FileSink(tmp_path), [records[:20], records[20:]])
    assert list(HistoryReader(str(tmp_path)).records()) == records


def test_segments_rotate_by_size_and_merge_back_in_time_order(tmp_path: Path) -> None:
    records = [decision(n) for n in range(40)]
    _write(FileSink(tmp_path, max_bytes=2000), [[r] for r in records])
    assert len(segment_paths(tmp_path)) > 3
    assert list(HistoryReader(str(tmp_path)).records()) == records


def test_a_torn_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    records = [decision(n) for n in range(5)]
    _write(FileSink(tmp_path), [records])
    (segment,) = segment_paths(tmp_path)
    whole = encode_record(decision(99))
    with segment.open("ab") as out:
        out.write(whole[: len(whole) // 2])  # a crash in the middle of a write
    reader = HistoryReader(str(tmp_path))
    assert list(reader.records()) == records
    assert reader.skipped == 1


def test_segments_past_the_retention_are_deleted(tmp_path: Path) -> None:
    _write(FileSink(tmp_path), [[decision(1)]])
    (old,) = segment_paths(tmp_path)
    long_ago = time.time() - 8 * 86_400
    os.utime(old, (long_ago, long_ago))
    _write(FileSink(tmp_path, retention_days=7), [[decision(2)]])
    remaining = segment_paths(tmp_path)
    assert old not in remaining
    assert len(remaining) == 1


def test_a_directory_that_cannot_be_made_is_refused_at_open(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(SinkError, match="a-file"):
        asyncio.run(FileSink(blocker / "history").open())


def test_since_and_until_select_by_record_time(tmp_path: Path) -> None:
    records = [decision(n, T0 + timedelta(hours=n)) for n in range(5)]
    _write(FileSink(tmp_path), [records])
    reader = HistoryReader(
        str(tmp_path), since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3)
    )
    assert [r.decision_id for r in reader.records()] == ["d1", "d2"]
