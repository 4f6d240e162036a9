"""`POST /bench/floor`: the benchmark's floor, served only when `NEXTBEST_BENCH_FLOOR` is on.

It decodes a small body and returns a constant through the same app, server and workers
as the real routes, so that the benchmark can say how close a decision comes to the
cheapest request this stack can serve.
"""

from __future__ import annotations

import msgspec
from litestar import post
from litestar.params import JSONBody

__all__ = ["FloorAnswer", "FloorRequest", "floor"]


class FloorRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    customer_id: str
    channel: str


class FloorAnswer(msgspec.Struct, frozen=True):
    status: str = "ok"


_ANSWER = FloorAnswer()


@post("/bench/floor", status_code=200, include_in_schema=False, sync_to_thread=False)
def floor(data: JSONBody[FloorRequest]) -> FloorAnswer:  # noqa: ARG001 (decoding it is the work)
    return _ANSWER
