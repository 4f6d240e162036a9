"""msgspec's validation messages, split into the field they name and the problem."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec

from nextbest.errors import BundleError

__all__ = ["convert_strict", "field_of", "refuse_duplicates", "split_validation_error"]

T = TypeVar("T")

_AT_PATH = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED_FIELD = re.compile(r"(?:missing required|contains unknown) field `([^`]+)`")


def field_of(path: str, problem: str) -> str:
    """`customer` + "missing required field `id`" -> `customer.id`; "" when no field."""
    named = _NAMED_FIELD.search(problem)
    if named:
        path = f"{path}.{named.group(1)}" if path else named.group(1)
    return path


def split_validation_error(exc: msgspec.ValidationError) -> tuple[str, str]:
    """(dotted field path or "", problem) of a msgspec validation error."""
    match = _AT_PATH.match(str(exc))
    assert match is not None  # the pattern matches any string
    problem = match.group("problem")
    path = (match.group("path") or "").replace("[...]", "").lstrip(".")
    return field_of(path, problem), problem


def convert_strict(
    raw: Any, shape: type[T], file: str, error: type[BundleError] = BundleError
) -> T:
    """`raw` (parsed YAML or JSON) as `shape`; `error` (a BundleError) naming `file` and
    the field when it does not fit."""
    try:
        return msgspec.convert(raw, type=shape, strict=True)
    except msgspec.ValidationError as exc:
        field, problem = split_validation_error(exc)
        raise error(file, field or None, problem) from exc


def refuse_duplicates(ids: Iterable[str], file: str, field: str, what: str) -> None:
    """A BundleError naming `file` and `field` when an id appears twice."""
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicates:
        raise BundleError(file, field, f"duplicate {what} ids: {duplicates}")
