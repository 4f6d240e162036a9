"""Progress lines for the steps of a training run that take more than a moment.

On a terminal the running step shows its elapsed seconds, updated every second; in a
log (not a terminal) a line is added every ``LOG_EVERY_S`` seconds instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["LOG_EVERY_S", "Progress"]

LOG_EVERY_S = 10.0


class Progress:
    """Writes to ``stream``; with ``None`` it says nothing."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def note(self, text: str) -> None:
        if self._stream is not None:
            self._stream.write(text + "\n")
            self._stream.flush()

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        stream = self._stream
        if stream is None:
            yield
            return
        tty = stream.isatty()
        started = time.perf_counter()
        stop = threading.Event()
        stream.write(f"{text} ..." + ("" if tty else "\n"))
        stream.flush()

        def tick() -> None:
            interval = 1.0 if tty else LOG_EVERY_S
            while not stop.wait(interval):
                elapsed = time.perf_counter() - started
                if tty:
                    stream.write(f"\r{text} ... {elapsed:.0f} s")
                else:
                    stream.write(f"  ... {text}: {elapsed:.0f} s\n")
                stream.flush()

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            yield
        finally:
            stop.set()
            ticker.join()
            elapsed = time.perf_counter() - started
            prefix = "\r" if tty else ""
            stream.write(f"{prefix}{text}: done in {elapsed:.1f} s\n")
            stream.flush()
