"""Progress lines for the steps of a training run that take more than a moment.

On a terminal the running step shows its elapsed seconds (and, for a step of counted
parts, a bar), updated every second; in a log (not a terminal) a line is added every
``LOG_EVERY_S`` seconds instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["BAR_WIDTH", "LOG_EVERY_S", "Progress"]

LOG_EVERY_S = 10.0
BAR_WIDTH = 20


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
        with self.bar(text, 0):
            yield

    @contextmanager
    def bar(self, text: str, total: int) -> Iterator[Callable[[], None]]:
        """A step of ``total`` parts (0: not counted); yields the call that marks one done."""
        done = [0]

        def advance() -> None:
            done[0] += 1

        def status() -> str:
            if total <= 0:
                return ""
            filled = BAR_WIDTH * min(done[0], total) // total
            return f" [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done[0]}/{total}"

        stream = self._stream
        if stream is None:
            yield advance
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
                    stream.write(f"\r{text} ...{status()} {elapsed:.0f} s")
                else:
                    stream.write(f"  ... {text}:{status()} {elapsed:.0f} s\n")
                stream.flush()

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            yield advance
        finally:
            stop.set()
            ticker.join()
            elapsed = time.perf_counter() - started
            prefix = "\r" if tty else ""
            stream.write(f"{prefix}{text}:{status()} done in {elapsed:.1f} s\n")
            stream.flush()
