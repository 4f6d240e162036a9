"""The embedded sink: append-only JSON-lines segments in a directory.

Each process writes its own segments (`history-<start>-<host>-<pid>-<seq>.jsonl`), one
write and one fsync per batch. A segment is closed and a new one started past
`max_bytes` or `max_age_s`; segments older than the retention are deleted when a new
one starts. After a crash the last line of a segment may be torn: readers skip it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from nextbest.history.sink import SinkError

__all__ = ["SEGMENT_GLOB", "FileSink", "segment_paths"]

SEGMENT_GLOB = "history-*.jsonl"


def segment_paths(directory: Path) -> list[Path]:
    """Every segment in `directory`, oldest start first."""
    return sorted(directory.glob(SEGMENT_GLOB))


class FileSink:
    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 64 * 1024 * 1024,
        max_age_s: float = 3600.0,
        retention_days: float = 30.0,
    ) -> None:
        self._directory = directory
        self._max_bytes = max_bytes
        self._max_age_s = max_age_s
        self._retention_s = retention_days * 86_400
        self._fd: int | None = None
        self._size = 0
        self._opened_at = 0.0
        self._sequence = 0
        self._prefix = f"{socket.gethostname()}-{os.getpid()}"

    @property
    def directory(self) -> Path:
        return self._directory

    async def open(self) -> None:
        await asyncio.to_thread(self._start_segment)

    async def write(self, records: Sequence[bytes]) -> None:
        if records:
            await asyncio.to_thread(self._append, b"".join(r + b"\n" for r in records))

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close)

    def _start_segment(self) -> None:
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            self._close()
            self._sequence += 1
            started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            path = self._directory / f"history-{started}-{self._prefix}-{self._sequence:04d}.jsonl"
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        except OSError as exc:
            raise SinkError(f"{self._directory}: {exc.strerror or exc}") from exc
        self._size = 0
        self._opened_at = time.monotonic()
        self._prune()

    def _prune(self) -> None:
        cutoff = time.time() - self._retention_s
        for path in segment_paths(self._directory):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                continue  # another process pruned it first, or it is not ours to delete

    def _append(self, data: bytes) -> None:
        if self._fd is None or self._due():
            self._start_segment()
        assert self._fd is not None
        try:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)
        except OSError as exc:
            # what was half written is a torn line that readers skip; start afresh
            self._close()
            raise SinkError(f"{self._directory}: {exc.strerror or exc}") from exc
        self._size += len(data)

    def _due(self) -> bool:
        return (
            self._size >= self._max_bytes or time.monotonic() - self._opened_at >= self._max_age_s
        )

    def _close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)
