"""Taking back the contacts of decisions whose answer did not carry them.

A decision's select may run on the store and record contacts while its caller has
already given up (the budget ran out, the connection failed after the command was sent,
the request was cancelled): the answer then returned none of those offers. Each such
decision is queued here and released in the background, off the request path, with
`ContactStore.release`, which is idempotent and holds whatever the order in which the
select and the release reach the store. A release that fails is retried, with a growing
pause, until it succeeds or is `give_up_s` old. At most `batch` releases are sent at
once: they share the store's connections with the decisions, and a burst of late
replies followed by as many releases at once left the decisions none to use.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nextbest.pressure.store import ContactStore, StoreUnavailableError
from nextbest.pressure.types import CapCandidate

__all__ = ["PendingRelease", "Releaser"]


@dataclass(frozen=True, slots=True)
class PendingRelease:
    customer_id: str
    decision_id: str
    candidates: Sequence[CapCandidate]
    now_ms: int
    queued_at: float


class Releaser:
    """A queue of releases and the one background task that works through it."""

    def __init__(
        self,
        store: ContactStore,
        *,
        attempt_s: float = 1.0,
        first_retry_s: float = 0.05,
        last_retry_s: float = 2.0,
        give_up_s: float = 600.0,
        max_pending: int = 100_000,
        batch: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._attempt_s = attempt_s
        self._first_retry_s = first_retry_s
        self._last_retry_s = last_retry_s
        self._give_up_s = give_up_s
        self._max_pending = max_pending
        self._batch = batch
        self._clock = clock
        self._queue: deque[PendingRelease] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.released = 0
        """Releases done (whether or not the select had recorded anything)."""
        self.abandoned = 0
        """Releases given up (queue full, or still failing after `give_up_s`)."""

    @property
    def pending(self) -> int:
        return len(self._queue)

    def submit(
        self, customer_id: str, decision_id: str, candidates: Sequence[CapCandidate], now_ms: int
    ) -> None:
        """Queue the release of `decision_id`'s contacts; returns at once."""
        if len(self._queue) >= self._max_pending:
            self.abandoned += 1
            return
        self._queue.append(
            PendingRelease(customer_id, decision_id, candidates, now_ms, self._clock())
        )
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._work())

    async def _release(self, job: PendingRelease) -> bool:
        try:
            async with asyncio.timeout(self._attempt_s):
                await self._store.release(
                    job.customer_id, job.decision_id, job.candidates, job.now_ms
                )
        except (StoreUnavailableError, TimeoutError):
            return False
        return True

    async def _work(self) -> None:
        pause = self._first_retry_s
        while self._queue:
            jobs = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
            done = await asyncio.gather(*(self._release(job) for job in jobs))
            failed = [job for job, ok in zip(jobs, done, strict=True) if not ok]
            self.released += len(jobs) - len(failed)
            now = self._clock()
            for job in reversed(failed):
                if now - job.queued_at >= self._give_up_s:
                    self.abandoned += 1
                else:
                    self._queue.appendleft(job)
            if failed:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await self._wake.wait()  # a new release comes first, then retry
                pause = min(pause * 2, self._last_retry_s)
            else:
                pause = self._first_retry_s

    async def drain(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for the queue to empty, then stop working on it."""
        task = self._task
        if task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(task)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self.abandoned += len(self._queue)
        self._queue.clear()
