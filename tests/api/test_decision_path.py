"""`POST /v1/decisions` answered straight from ASGI; everything it does not answer
reaches the app behind it (the typed route and its problem documents) with the body
the client sent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgspec
from litestar.config.cors import CORSConfig

from helpers import decision_request
from nextbest.api.admission import Admission
from nextbest.api.cors import cors_config
from nextbest.api.decision_path import DecisionPath
from nextbest.api.state import Serving
from nextbest.config import Settings
from nextbest.decide import Decider, DecisionResponse
from nextbest.pressure.factory import open_gate

_LIMIT = 4096


class _Behind:
    """The app behind the path: notes what reached it and answers 299."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.bodies.append(message.get("body", b""))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _call(
    path: DecisionPath, body: bytes, *, method: str = "POST", headers: list[Any] | None = None
) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "method": method,
        "path": "/v1/decisions",
        "headers": headers if headers is not None else [(b"content-length", b"%d" % len(body))],
    }
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(path(scope, receive, send))  # type: ignore[arg-type]
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def _path(decider: Decider, cors: CORSConfig | None = None) -> tuple[DecisionPath, _Behind]:
    behind = _Behind()
    serving = Serving(decider, open_gate(Settings()), admission=Admission())
    return DecisionPath(behind, serving, _LIMIT, cors=cors), behind  # type: ignore[arg-type]


def _body(**changes: Any) -> bytes:
    return json.dumps({**decision_request(call_reason="move_house"), **changes}).encode()


def test_a_well_formed_decision_is_answered_here(decider: Decider) -> None:
    path, behind = _path(decider)
    status, body = _call(path, _body())
    assert status == 200
    assert msgspec.json.decode(body, type=DecisionResponse).offers
    assert behind.bodies == []


def test_what_this_path_does_not_decide_reaches_the_route_with_its_body(
    decider: Decider,
) -> None:
    path, behind = _path(decider)
    refused = [
        b'{"customer": ',  # not JSON
        b"",  # empty
        _body(limit="3"),  # breaks the contract
        json.dumps(decision_request(channel="fax")).encode(),  # not in the vocabulary
    ]
    for body in refused:
        assert _call(path, body)[0] == 299
    assert behind.bodies == refused


def test_large_undeclared_and_other_requests_are_not_read(decider: Decider) -> None:
    body = _body()
    for headers, method in [
        ([(b"content-length", b"%d" % (_LIMIT + 1))], "POST"),
        ([], "POST"),  # no length declared
        ([(b"content-length", b"%d" % len(body))], "PUT"),
    ]:
        path, behind = _path(decider)
        assert _call(path, body, method=method, headers=headers)[0] == 299
        assert behind.bodies == [body]  # the client's body, unread by the path


def test_a_cross_origin_decision_is_answered_here_with_its_cors_headers(
    decider: Decider,
) -> None:
    path, behind = _path(decider, cors_config("https://shop.test"))
    body = _body()
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/decisions",
        "headers": [(b"content-length", b"%d" % len(body)), (b"origin", b"https://shop.test")],
    }
    asyncio.run(path(scope, receive, send))  # type: ignore[arg-type]
    assert behind.bodies == []
    assert sent[0]["status"] == 200
    headers = dict(sent[0]["headers"])
    assert headers[b"access-control-allow-origin"] == b"https://shop.test"
    assert headers[b"vary"] == b"Origin"
