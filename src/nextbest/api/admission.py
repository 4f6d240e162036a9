"""Admission control: a worker works on a bounded number of decisions at once.

Past saturation, a worker that starts every request it accepts shares its CPU among all
of them: each decision takes longer, and the contact store's replies, read late, miss
their budget, so answers degrade although the store is healthy. A bounded number of
decisions in flight keeps the ones started fast; the others wait, in arrival order,
before they start (never in the middle of a store call), and one that has waited past
the queue deadline is refused with 503 and `Retry-After`, so that the caller can try
another replica or come back.
"""

from __future__ import annotations

import asyncio

__all__ = ["Admission", "QueueDeadlineExceededError"]


class QueueDeadlineExceededError(Exception):
    """The decision waited longer than the queue deadline for its turn."""


class Admission:
    """At most `max_in_flight` decisions at once; a wait past `deadline_s` is refused."""

    def __init__(self, max_in_flight: int = 8, deadline_s: float = 0.25) -> None:
        self.max_in_flight = max_in_flight
        self.deadline_s = deadline_s
        self._slots = asyncio.Semaphore(max_in_flight)

    def slot(self) -> Admission:
        """Hold a slot for the block; raises QueueDeadlineExceededError when none
        came free within the deadline. (The admission is its own context manager: a
        generator-based one cost a decision more than its admission.)"""
        return self

    async def __aenter__(self) -> None:
        if self._slots.locked():
            try:
                async with asyncio.timeout(self.deadline_s):
                    await self._slots.acquire()
            except TimeoutError:
                raise QueueDeadlineExceededError(
                    f"waited {self.deadline_s * 1000:.0f} ms for one of "
                    f"{self.max_in_flight} decisions in flight"
                ) from None
        else:
            await self._slots.acquire()

    async def __aexit__(self, *_exc: object) -> None:
        self._slots.release()
