"""The ids every log line of a request carries (request id, trace ids, decision id,
customer id, bundle version): one context variable holding them all.

structlog's own contextvars keep a context variable per key, and merging them copies the
whole context on every line; binding a decision's three ids and resetting them cost more
than its rules. Here a bind sets one variable to a new dict (the old one is never
changed), and `merge_log_context` is the processor that writes them into a line.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import Any

__all__ = ["bind_log_context", "log_context", "merge_log_context", "reset_log_context"]

_NOTHING: Mapping[str, str] = MappingProxyType({})
_context: ContextVar[Mapping[str, str]] = ContextVar("nextbest_log_context", default=_NOTHING)


def log_context() -> Mapping[str, str]:
    """The ids bound now."""
    return _context.get()


def bind_log_context(**ids: str) -> Token[Mapping[str, str]]:
    """Bind `ids` (over any of the same name) until `reset_log_context(token)`."""
    return _context.set({**_context.get(), **ids})


def reset_log_context(token: Token[Mapping[str, str]]) -> None:
    _context.reset(token)


def merge_log_context(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the bound ids first, then the line's own fields."""
    context = _context.get()
    if not context:
        return event
    merged: dict[str, Any] = dict(context)
    merged.update(event)
    return merged
