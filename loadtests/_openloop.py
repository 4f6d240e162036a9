"""Latency at a fixed request rate: an open-loop generator (uvloop + httptools).

wrk is closed-loop: each connection waits for its answer before it sends again, so a
slow answer also delays the requests that would have arrived meanwhile, and their
waiting is never measured (coordinated omission). Here request i is due at
start + i / rate whatever happened before; it goes out on an idle keep-alive
connection, or on a new one when all are busy. Latency is counted from when the request
was due ("from schedule", the figure a caller would see) and from when it was written
("from send"); the two differ only when a request goes out late, because every
connection was busy or the generator itself fell behind, which `lag_p99_ms` shows.
The event loop's timers count whole milliseconds, so requests go out in batches: every
request due within the next millisecond is sent at once, and one sent early counts from
when it was sent. At the rates of this benchmark (hundreds to a few thousand a second)
the generator uses a fraction of a core, reported as `cpu_share`.
"""

from __future__ import annotations

import asyncio
import gc
import resource
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import httptools
import uvloop

__all__ = ["OpenLoopResult", "run_open_loop"]

_MAX_CONNECTIONS = 512
_AHEAD_S = 0.001
"""Requests due within this are sent in the same batch (the timers' resolution)."""


class _Pool:
    """Keep-alive connections and the requests that wait for one. Everything happens in
    protocol callbacks: no task, lock or future per request."""

    def __init__(self, host: str, port: int, total: int) -> None:
        self.loop = asyncio.get_running_loop()
        self.host, self.port = host, port
        self.total = total
        self.idle: deque[_Connection] = deque()
        self.backlog: deque[tuple[bytes, float]] = deque()
        self.opened = 0
        self.connecting = 0
        self.from_schedule: list[float] = []
        self.from_send: list[float] = []
        self.lags: list[float] = []
        self.errors = 0
        """Answers with a status >= 400, and requests lost with their connection."""
        self.degraded = 0
        """Answers that say `"degraded": [...]`: decided without the contact store."""
        self._settled = 0
        self.finished: asyncio.Future[None] = self.loop.create_future()

    async def open(self) -> None:
        self.opened += 1
        self.connecting += 1
        try:
            await self.loop.create_connection(lambda: _Connection(self), self.host, self.port)
        except OSError:
            if self.backlog:  # the request this connection was opened for
                self.backlog.popleft()
                self.fail()
        finally:
            self.connecting -= 1

    def submit(self, payload: bytes, due: float) -> None:
        while self.idle:
            connection = self.idle.popleft()
            if connection.open:
                connection.send(payload, due)
                return
        self.backlog.append((payload, due))
        if self.opened < _MAX_CONNECTIONS and self.connecting < len(self.backlog):
            self.loop.create_task(self.open())

    def ready(self, connection: _Connection) -> None:
        if self.backlog:
            connection.send(*self.backlog.popleft())
        else:
            self.idle.append(connection)

    def answered(self, status: int, due: float, sent: float, degraded: bool) -> None:
        done = time.perf_counter()
        if status >= 400:
            self.errors += 1
        self.degraded += degraded
        self.from_schedule.append(done - min(due, sent))
        self.from_send.append(done - sent)
        self.lags.append(max(0.0, sent - due))
        self._settle()

    def fail(self) -> None:
        self.errors += 1
        self._settle()

    def _settle(self) -> None:
        self._settled += 1
        if self._settled >= self.total and not self.finished.done():
            self.finished.set_result(None)


class _Connection(asyncio.Protocol):
    def __init__(self, pool: _Pool) -> None:
        self._pool = pool
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._due = self._sent = 0.0
        self._busy = False
        self._degraded = False
        self.open = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self._pool.ready(self)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002
        self.close()

    def on_body(self, body: bytes) -> None:
        self._degraded = self._degraded or b'"degraded":["' in body

    def on_message_complete(self) -> None:
        self._busy = False
        self._pool.answered(self._parser.get_status_code(), self._due, self._sent, self._degraded)
        self._degraded = False
        self._pool.ready(self)

    def close(self) -> None:
        if self._busy:
            self._busy = False
            self._pool.fail()
        self.open = False
        if self._transport is not None:
            self._transport.close()

    def send(self, payload: bytes, due: float) -> None:
        assert self._transport is not None
        self._busy = True
        self._due, self._sent = due, time.perf_counter()
        self._transport.write(payload)


@dataclass(frozen=True)
class OpenLoopResult:
    rate: float
    """The rate asked for, requests per second."""
    achieved: float
    """Answers per second over the run."""
    requests: int
    errors: int
    degraded: int
    p50_ms: float
    p99_ms: float
    """From schedule: what a caller arriving at that moment would see."""
    send_p50_ms: float
    send_p99_ms: float
    lag_p99_ms: float
    """How late the generator wrote a request, p99."""
    connections: int
    """Connections it needed (at most 512)."""
    cpu_share: float
    """The generator's CPU time over the wall time of the run (1.0 = one core)."""


def _percentile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _run(
    host: str,
    port: int,
    next_payload: Callable[[int], bytes],
    rate: float,
    duration_s: float,
    connections: int,
) -> OpenLoopResult:
    total = max(1, int(rate * duration_s))
    pool = _Pool(host, port, total)
    for _ in range(connections):
        await pool.open()

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter() + 0.05
    index = 0
    while index < total:
        now = time.perf_counter()
        due = started + index / rate
        if due > now + _AHEAD_S:
            # uvloop's timers count whole milliseconds: a shorter sleep would spin
            await asyncio.sleep(max(due - now - _AHEAD_S, 0.001))
            continue
        while index < total and started + index / rate <= now + _AHEAD_S:
            pool.submit(next_payload(index), started + index / rate)
            index += 1
    await asyncio.wait_for(pool.finished, timeout=duration_s + 30)
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    for connection in list(pool.idle):
        connection.close()

    from_schedule = sorted(pool.from_schedule)
    from_send = sorted(pool.from_send)
    lags = sorted(pool.lags)
    return OpenLoopResult(
        rate=rate,
        achieved=len(from_schedule) / wall,
        requests=total,
        errors=pool.errors,
        degraded=pool.degraded,
        p50_ms=_percentile(from_schedule, 0.5) * 1000,
        p99_ms=_percentile(from_schedule, 0.99) * 1000,
        send_p50_ms=_percentile(from_send, 0.5) * 1000,
        send_p99_ms=_percentile(from_send, 0.99) * 1000,
        lag_p99_ms=_percentile(lags, 0.99) * 1000,
        connections=pool.opened,
        cpu_share=cpu / wall,
    )


def run_open_loop(
    host: str,
    port: int,
    next_payload: Callable[[int], bytes],
    *,
    rate: float,
    duration_s: float,
    connections: int = 16,
) -> OpenLoopResult:
    """Send `rate * duration_s` requests at a fixed rate; `next_payload(i)` gives the
    i-th raw HTTP/1.1 request (keep-alive). The garbage collector is off meanwhile, so
    that its pauses do not count as the server's latency."""
    gc.collect()
    gc.disable()
    try:
        return uvloop.run(_run(host, port, next_payload, rate, duration_s, connections))
    finally:
        gc.enable()
