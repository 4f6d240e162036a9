"""Where history records go: one Protocol, one module per sink."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["HistorySink", "SinkError"]


class SinkError(Exception):
    """A sink could not write (disk full, directory gone, Redis down, ...)."""


class HistorySink(Protocol):
    """Appends encoded records (one JSON object each, no newline) durably."""

    async def open(self) -> None:
        """Get ready to write; raise SinkError when the sink cannot be written at all."""
        ...

    async def write(self, records: Sequence[bytes]) -> None:
        """Append `records` in order, durably (one write and one sync for the batch);
        raise SinkError when they could not be written."""
        ...

    async def aclose(self) -> None: ...
