"""`POST /v1/decisions` answered straight from ASGI: raw body in, strict msgspec decode,
bytes out.

Litestar's request and response handling cost a decision more CPU than its rules (see
the README's performance section). This middleware sits in front of the Litestar app
and answers a well-formed decision request itself, with the same service call, the same
admission and the same JSON as the typed route (`routes.DecisionRoutes.decide`), which
stays registered: it is what the OpenAPI document describes, and it answers everything
this path leaves to it, by the same exception handlers as before:

- a body this path did not decode (broken, empty, or breaking the contract) or a request
  the bundle refused (its vocabulary, a declared attribute's type) is handed to the
  typed route with the same body, before any side effect, so that every problem
  document is the route's own;
- a body larger than `NEXTBEST_MAX_BODY_BYTES`, or without a Content-Length, goes to
  Litestar unread.

A request from a browser on another origin (an `Origin` header, CORS configured) is
answered here too, with the CORS headers Litestar's middleware would add
(`cors.actual_request_headers`); preflights (`OPTIONS`) stay Litestar's.

Only a refusal for a busy worker (503) and an unexpected error (500) come after the
decision began; they are answered here as the exception handlers would.

Given `http_metrics`, the path stands in front of the request-id and HTTP-metrics
middlewares (which then see only what it hands on) and does their work itself for the
decisions it answers: the request id echoed and bound to the log lines, the request
timed. Their two layers cost a decision a few microseconds, about as much as its
arbitration. (With tracing, the path sits behind them and the tracing middleware.)
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import msgspec
from litestar.config.cors import CORSConfig
from litestar.enums import ScopeType
from litestar.serialization import encode_json
from litestar.types import (
    ASGIApp,
    HTTPRequestEvent,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from nextbest import service
from nextbest.api.admission import QueueDeadlineExceededError
from nextbest.api.cors import actual_request_headers
from nextbest.api.http_metrics import HttpMetrics
from nextbest.api.problems import PROBLEM_JSON, busy_problem, unexpected_problem
from nextbest.api.request_id import REQUEST_ID_HEADER, request_ids
from nextbest.api.state import Serving
from nextbest.api.wire import Problem
from nextbest.decide import DecisionRequest
from nextbest.errors import InvalidRequestError
from nextbest.log_context import bind_log_context, reset_log_context
from nextbest.metrics import count_shed

__all__ = ["DECISIONS_PATH", "DecisionPath"]

DECISIONS_PATH = "/v1/decisions"

_decoder = msgspec.json.Decoder(DecisionRequest)
_JSON = b"application/json"
_REQUEST_ID = REQUEST_ID_HEADER.encode()
_MAX_ORIGINS_REMEMBERED = 256

Headers = tuple[tuple[bytes, bytes], ...]


class _UnreadBodyError(Exception):
    """The body is too large, or its length is not declared: Litestar reads it."""


class DecisionPath:
    """Serves `POST /v1/decisions` for `serving`; every other request goes to `app`."""

    __slots__ = ("_app", "_cors", "_cors_headers", "_http_metrics", "_max_body", "_serving")

    def __init__(
        self,
        app: ASGIApp,
        serving: Serving,
        max_body_bytes: int,
        cors: CORSConfig | None,
        http_metrics: HttpMetrics | None = None,
    ) -> None:
        self._app = app
        self._serving = serving
        self._max_body = max_body_bytes
        self._cors = cors
        self._cors_headers: dict[tuple[bytes, bool], Headers] = {}
        self._http_metrics = http_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != ScopeType.HTTP
            or scope["path"] != DECISIONS_PATH
            or scope["method"] != "POST"
        ):
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        extra = self._cors_answer_headers(scope) if self._cors is not None else ()
        try:
            body = await _read_body(scope, receive, self._max_body)
        except _UnreadBodyError:
            await self._app(scope, receive, send)
            return
        if body is None:  # the client went away
            return
        scope["path_template"] = DECISIONS_PATH
        try:
            request = _decoder.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
            await self._app(scope, _replay(body), send)
            return
        if self._http_metrics is None:
            await self._decide(scope, request, body, send, extra)
            return
        request_id, log_ids = request_ids(scope["headers"])
        status = 500
        token = bind_log_context(**log_ids)
        try:
            status = await self._decide(
                scope, request, body, send, (*extra, (_REQUEST_ID, request_id))
            )
        finally:
            reset_log_context(token)
            if status:
                self._http_metrics.answered(DECISIONS_PATH, "POST", status, started)

    def _cors_answer_headers(self, scope: Scope) -> Headers:
        origin, has_cookie = None, False
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"cookie":
                has_cookie = True
        if origin is None or self._cors is None:
            return ()
        key = (origin, has_cookie)
        headers = self._cors_headers.get(key)
        if headers is None:
            headers = actual_request_headers(self._cors, origin.decode("latin-1"), has_cookie)
            if len(self._cors_headers) < _MAX_ORIGINS_REMEMBERED:
                self._cors_headers[key] = headers
        return headers

    async def _decide(
        self, scope: Scope, request: DecisionRequest, body: bytes, send: Send, extra: Headers
    ) -> int:
        """The status answered; 0 when the request was handed to the app."""
        serving = self._serving
        try:
            async with serving.admission.slot():
                decision = await service.decide(
                    serving.decider, serving.gate, request, serving.history
                )
        except InvalidRequestError:  # raised before anything was counted or recorded
            await self._app(scope, _replay(body), send)
            return 0
        except QueueDeadlineExceededError as exc:
            count_shed()
            return await _answer_problem(send, busy_problem(str(exc)), extra)
        except Exception as exc:
            return await _answer_problem(send, unexpected_problem(scope["path"], exc), extra)
        await _answer(send, 200, _JSON, encode_json(decision.response), extra)
        return 200


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole body; None if the client disconnected. Raises _UnreadBodyError, having read
    nothing, when the length is not declared or is over `limit`."""
    length = _content_length(scope)
    if length is None or length > limit:
        raise _UnreadBodyError
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message["body"] if message["type"] == "http.request" else b"")
        if message["type"] != "http.request" or not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _replay(body: bytes) -> Callable[[], Awaitable[ReceiveMessage]]:
    """A `receive` that gives `body` once, then says that the client went away."""
    sent = False

    async def receive() -> ReceiveMessage:
        nonlocal sent
        if not sent:
            sent = True
            request: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": False}
            return request
        return {"type": "http.disconnect"}

    return receive


async def _answer_problem(
    send: Send, problem: tuple[Problem, dict[str, str]], cors: Headers
) -> int:
    document, headers = problem
    extra = tuple((k.lower().encode(), v.encode()) for k, v in headers.items()) + cors
    await _answer(send, document.status, PROBLEM_JSON.encode(), encode_json(document), extra)
    return document.status


async def _answer(
    send: Send,
    status: int,
    media_type: bytes,
    body: bytes,
    headers: Headers,
) -> None:
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", media_type),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    }
    await send(start)
    content: HTTPResponseBodyEvent = {
        "type": "http.response.body",
        "body": body,
        "more_body": False,
    }
    await send(content)
