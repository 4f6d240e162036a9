"""Scoring the decisions that arrive together in one run per model.

A run costs about as much before it scores its first request as the request itself:
on the development machine, the demo model over bench_decide.py's requests (20 offers)
took 120 µs for one request alone, 100 µs a request in runs of two and 56 µs in runs of
eight. Under load a worker's event loop holds several decisions at the same stage at
once: each asks the batcher for its scores, and the batcher scores all that asked during
two turns of the loop in one run (at most `max_batch` requests a run). The second turn
is for the requests that arrived meanwhile: the server reads a request's bytes in one
turn and starts its task in the next, which reaches scoring in that same turn (rules and
screening do not wait). Over HTTP (one worker, wrk's 8 connections), runs held 2.5
decisions on average when flushed after one turn, 4.7-4.8 after two. Alone, a decision
waits for nothing but those two turns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["ScoringBatcher"]

In = TypeVar("In")
Out = TypeVar("Out")


class ScoringBatcher(Generic[In, Out]):
    """Coalesces calls of `score_many` made during two turns of the event loop."""

    def __init__(
        self, score_many: Callable[[Sequence[In]], Sequence[Out]], *, max_batch: int = 16
    ) -> None:
        self._score_many = score_many
        self._max_batch = max_batch
        self._pending: list[tuple[In, asyncio.Future[Out]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.runs = 0
        """Batches scored so far (for tests and benchmarks)."""

    async def score(self, item: In) -> Out:
        loop = asyncio.get_running_loop()
        if self._pending and loop is not self._loop:
            # another event loop (another thread) has a batch waiting: score alone
            self.runs += 1
            return self._score_many([item])[0]
        future: asyncio.Future[Out] = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) == 1:
            self._loop = loop
            loop.call_soon(loop.call_soon, self._flush)
        return await future

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), self._max_batch):
            batch = pending[start : start + self._max_batch]
            self.runs += 1
            try:
                results = self._score_many([item for item, _ in batch])
            except Exception as exc:  # every decision of the batch gets the same error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
