"""A redis-py connection's socket, driven without redis-py's stream layers once it is open.

redis-py opens the connection and does its handshake with the settings of the client's
pool (address or unix socket, TLS, AUTH with an ACL user, SELECT, client name, RESP
version, reply decoding); then `WireConnection` takes its transport over
(`transport.set_protocol`): a packet is one `transport.write`, replies are parsed by
hiredis as the bytes arrive (`data_received`), and a call waits on one future with one
timer. Through redis-py's stream layers (StreamWriter, StreamReader, its parser's reads,
a timeout context per read) an EVALSHA round trip cost the client about twice the CPU
(`ScriptRunner.run` on uvloop: 50-60 µs a call before, 25-37 µs with this). Error
replies are redis-py's exceptions, as its parser makes them (the connection's own
`parse_error`). Closing is redis-py's `disconnect`: it closes the transport, and its
stream protocol still hears of the close (`connection_lost` is passed on), which
`disconnect` waits for. Two attributes of redis-py's asyncio connection are private,
`_writer` (the StreamWriter over the transport) and `_parser`: both are the same from
redis-py 5.0 to 8, and the tests run at both ends (.ci/run).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, TypeAlias

import hiredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["Answer", "LateReplyError", "Reply", "WireConnection"]

Reply: TypeAlias = "str | int | list[Reply] | None"
"""What a script answers, as the client decodes it (strings: `decode_responses`)."""
Answer: TypeAlias = "Reply | RedisError"
"""A reply, or the error the server answered with as redis-py's exception (not raised)."""


class LateReplyError(RedisTimeoutError):
    """No reply within the budget; `unread` replies are still due on the connection."""

    def __init__(self, message: str, unread: int) -> None:
        super().__init__(message)
        self.unread = unread


_MORE = object()
"""What the hiredis reader returns when it has no whole reply yet."""
_PUSH = getattr(hiredis, "PushNotification", None)
"""RESP3 push messages (hiredis >= 3.2 types them): not replies to a command."""
_PING = b"*1\r\n$4\r\nPING\r\n"


class WireConnection(asyncio.Protocol):
    """A connected redis-py connection whose replies come here. One exchange at a time:
    the replies of each packet are read in full (or counted as unread) before the next."""

    def __init__(self, connection: AbstractConnection) -> None:
        writer = connection._writer
        if writer is None:
            raise RedisConnectionError("the connection is not open")
        self.connection = connection
        encoder = connection.encoder
        decoding: dict[str, Any] = (
            {"encoding": encoder.encoding, "errors": encoder.encoding_errors}
            if encoder.decode_responses
            else {}
        )
        self._reader = hiredis.Reader(
            protocolError=InvalidResponse,
            replyError=connection._parser.parse_error,
            notEnoughData=_MORE,
            **decoding,
        )
        self._replies: deque[Answer] = deque()
        self._wanted = 0
        self._waiter: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._closed: str | None = None
        self._health_check_s: float = connection.health_check_interval
        self._next_health_check: float = connection.next_health_check
        self._transport = writer.transport
        self._stream = self._transport.get_protocol()
        self._transport.set_protocol(self)

    async def exchange(
        self, packet: bytes, count: int, send_by: float, budget_s: float
    ) -> list[Answer]:
        """The `count` replies to `packet`. The packet is handed to the socket at once;
        should the socket's buffer be full, it must drain by `send_by` (the loop's
        clock; else TimeoutError). The replies have `budget_s` from then (`receive`).
        When the URL's `health_check_interval` has passed since the last reply, PING goes
        first in the same packet, and anything but PONG is a broken connection."""
        if self._closed is not None:
            raise RedisConnectionError(self._closed)
        loop = asyncio.get_running_loop()
        ping = self._health_check_s and loop.time() > self._next_health_check
        self._transport.write(_PING + packet if ping else packet)
        if self._writable is not None:
            async with asyncio.timeout_at(send_by):
                await self._writable
        if not ping:
            return await self.receive(count, loop.time() + budget_s)
        pong, *replies = await self.receive(count + 1, loop.time() + budget_s)
        if pong not in ("PONG", b"PONG"):
            raise RedisConnectionError(f"Bad response from PING health check: {pong!r}")
        return replies

    async def receive(self, count: int, due: float) -> list[Answer]:
        """The next `count` replies, waited for until `due` (the loop's clock); then those
        that have arrived by the next turn of the loop, else LateReplyError (the replies
        that did arrive are dropped; `unread` counts the others).

        A worker busy with other requests runs its timers before it reads its sockets
        (uvloop runs a turn's timers first; asyncio wakes the reader after them), so after
        a long turn the budget's timer fires although the replies are waiting in the
        socket: the budget would measure the worker's own queue, not the store. So when
        the budget runs out, the loop turns once more (reading the sockets that are ready)
        and replies that have arrived are taken."""
        replies = self._replies
        if len(replies) < count:
            await self._arrival(count, due)
            if len(replies) < count:
                await asyncio.sleep(0)
                if self._closed is not None:
                    raise RedisConnectionError(self._closed)
                if len(replies) < count:
                    unread = count - len(replies)
                    replies.clear()
                    raise LateReplyError("no reply within the budget", unread)
        if self._health_check_s:
            self._next_health_check = asyncio.get_running_loop().time() + self._health_check_s
        return [replies.popleft() for _ in range(count)]

    async def _arrival(self, count: int, due: float) -> None:
        """Until `count` replies have arrived or `due` has come."""
        if self._closed is not None:
            raise RedisConnectionError(self._closed)
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        self._wanted = count
        timer = loop.call_at(due, _wake, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            timer.cancel()

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        replies = self._replies
        try:
            reply = reader.gets()
            while reply is not _MORE:
                if reply.__class__ is not _PUSH:
                    replies.append(reply)
                reply = reader.gets()
        except InvalidResponse as exc:
            self._lost(f"Protocol error: {exc}")
            self._transport.abort()
            return
        waiter = self._waiter
        if waiter is not None and len(replies) >= self._wanted and not waiter.done():
            waiter.set_result(None)

    def eof_received(self) -> None:
        """The server closed its side: the transport closes (`connection_lost`)."""

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost("Connection closed by server." if exc is None else f"Connection lost: {exc}")
        self._stream.connection_lost(exc)

    def _lost(self, why: str) -> None:
        self._closed = why
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(RedisConnectionError(why))
        self.resume_writing()  # a send waiting for the buffer to drain goes on to fail

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    async def disconnect(self, *, nowait: bool = False) -> None:
        await self.connection.disconnect(nowait=nowait)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
