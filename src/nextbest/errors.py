"""The error base: every refusal the project raises names where (file, field) and what.

Each package raises a subclass; the HTTP layer and the command line render any of them
the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["BundleError", "FieldError", "InvalidRequestError"]


class FieldError(Exception):
    """A problem at a named place: `file` (or None), `field` (or None), `problem`."""

    def __init__(self, file: str | None, field: str | None, problem: str) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        super().__init__(": ".join(part for part in (file, field, problem) if part))


class BundleError(FieldError):
    """A bundle (or a file beside it) that cannot be used."""

    file: str


class InvalidRequestError(FieldError):
    """A request that decodes but does not fit the serving bundle; the API answers 422.
    `problems` lists (field, problem) for the first and every further one (`more`)."""

    field: str

    def __init__(self, field: str, problem: str, *, more: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(None, field, problem)
        self.problems: tuple[tuple[str, str], ...] = ((field, problem), *more)
        if more:
            self.args = ("; ".join(f"{f}: {p}" for f, p in self.problems),)
