"""The one error a bundle can raise: which file, which field, what is wrong."""

from __future__ import annotations

__all__ = ["BundleError"]


class BundleError(Exception):
    """A bundle that cannot be served. Names the file and the field (or line)."""

    def __init__(self, file: str, field: str | None, problem: str) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {problem}")
