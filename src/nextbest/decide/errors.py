"""A request that decodes but does not fit the serving bundle (unknown channel, ...)."""

from __future__ import annotations

__all__ = ["InvalidRequestError"]


class InvalidRequestError(Exception):
    """Names the request field and the problem; the API answers 422."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")
