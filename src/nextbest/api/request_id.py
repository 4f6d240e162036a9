"""Request ids and W3C trace context, for matching a client's logs with the service's.

A raw ASGI middleware around the whole app (so 404s, 405s and CORS preflights get one
too): the request's `X-Request-ID` (or a new one when it is absent or unusable) is sent
back on the response and bound, with the `traceparent`'s trace and parent span ids, to
every log line written while the request is served (log_context.py).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from typing import Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from nextbest.log_context import bind_log_context, reset_log_context

__all__ = [
    "REQUEST_ID_HEADER",
    "RequestIdMiddleware",
    "TraceContext",
    "request_ids",
    "trace_context",
]

REQUEST_ID_HEADER: Final = "x-request-id"
_REQUEST_ID = REQUEST_ID_HEADER.encode()
_TRACEPARENT = b"traceparent"
_USABLE_ID = re.compile(rb"^[A-Za-z0-9._:@/+=-]{1,128}$")
_TRACEPARENT_FORMAT = re.compile(
    rb"^(?P<version>[0-9a-f]{2})-(?P<trace>[0-9a-f]{32})-(?P<parent>[0-9a-f]{16})-[0-9a-f]{2}"
)
_ZERO_TRACE = b"0" * 32
_ZERO_SPAN = b"0" * 16


class TraceContext:
    """The trace and parent span ids of a valid W3C `traceparent`."""

    __slots__ = ("parent_id", "trace_id")

    def __init__(self, trace_id: str, parent_id: str) -> None:
        self.trace_id = trace_id
        self.parent_id = parent_id


def trace_context(header: bytes) -> TraceContext | None:
    """The ids of a `traceparent` value; None for one that the W3C rules make invalid
    (version ff, all-zero ids, a version-00 header with anything after the flags)."""
    match = _TRACEPARENT_FORMAT.match(header)
    if match is None:
        return None
    version, trace, parent = match.group("version", "trace", "parent")
    if version == b"ff" or trace == _ZERO_TRACE or parent == _ZERO_SPAN:
        return None
    if version == b"00" and len(header) != match.end():
        return None
    return TraceContext(trace.decode(), parent.decode())


def new_request_id() -> str:
    """128 random bits in hex: an id to find log lines by, not a secret, so the cheap
    generator (a third of `secrets.token_hex`'s cost) will do."""
    return f"{random.getrandbits(128):032x}"


def request_ids(headers: Iterable[tuple[bytes, bytes]]) -> tuple[bytes, dict[str, str]]:
    """The request id to echo (the request's `X-Request-ID`, or a new one when it is
    absent or unusable), and the ids to bind to the request's log lines: `request_id`, and
    a valid `traceparent`'s `trace_id` and `parent_span_id`."""
    request_id: bytes | None = None
    trace: TraceContext | None = None
    for name, value in headers:
        if name == _REQUEST_ID:
            request_id = value if _USABLE_ID.match(value) else None
        elif name == _TRACEPARENT:
            trace = trace_context(value)
    if request_id is None:
        request_id = new_request_id().encode()
    if trace is None:
        return request_id, {"request_id": request_id.decode()}
    return request_id, {
        "request_id": request_id.decode(),
        "trace_id": trace.trace_id,
        "parent_span_id": trace.parent_id,
    }


class RequestIdMiddleware:
    """Reads `X-Request-ID` and `traceparent`, echoes the request id, binds both to logs."""

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id, log_ids = request_ids(scope["headers"])
        echoed = (_REQUEST_ID, request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        token = bind_log_context(**log_ids)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            reset_log_context(token)
