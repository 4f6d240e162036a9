"""What a refused request raises: the problem document the service answered with."""

from __future__ import annotations

import msgspec

from nextbest.api.wire import Problem

__all__ = ["NextbestError", "raise_for_problem"]

_PROBLEM = msgspec.json.Decoder(Problem)


class NextbestError(Exception):
    """A 4xx or 5xx answer. `problem` is the service's problem document (`errors` names
    each field at fault); `request_id` is the `X-Request-ID` to find its log lines by."""

    def __init__(self, status: int, problem: Problem, request_id: str | None) -> None:
        self.status = status
        self.problem = problem
        self.request_id = request_id
        super().__init__(f"{status} {problem.title}: {problem.detail}")


def raise_for_problem(status: int, body: bytes, request_id: str | None) -> None:
    if status < 400:
        return
    try:
        problem = _PROBLEM.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):  # not from the service (a proxy?)
        text = body[:200].decode("utf-8", "replace")
        problem = Problem(type="about:blank", title="Error", status=status, detail=text)
    raise NextbestError(status, problem, request_id)
