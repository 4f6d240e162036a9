"""Types shared by the parts of the expression language (private; see ``expression``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias

from nextbest.fields import FieldKind, Value

__all__ = [
    "Evaluator",
    "ExpressionError",
    "FieldKind",
    "Value",
]


Evaluator: TypeAlias = Callable[[Mapping[str, Value], Mapping[str, Value]], bool]
"""A compiled condition: ``evaluate(request, offer) -> bool``."""


class ExpressionError(Exception):
    """A condition that cannot be compiled: bad syntax, a refused construct, an unknown
    field or a type error.

    ``message`` says what is wrong; ``column`` is the 1-based character position in the
    source it refers to, or ``None`` when it is about the expression as a whole.
    """

    message: str
    column: int | None

    def __init__(self, message: str, column: int | None = None) -> None:
        self.message = message
        self.column = column
        super().__init__(message, column)

    def __str__(self) -> str:
        if self.column is None:
            return self.message
        return f"column {self.column}: {self.message}"

    def __repr__(self) -> str:
        return f"ExpressionError({self.message!r}, column={self.column!r})"
