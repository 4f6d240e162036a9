"""The checked, typed form of a condition, between parsing and compiling (private).

The checker (``_checker``) turns a Python ``ast`` into these nodes after refusing every
construct outside the language and checking kinds; the compiler (``_compiler``) turns
them into closures. Every node here is well typed by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from ._types import FieldKind

__all__ = [
    "And",
    "CompareOp",
    "Comparison",
    "Condition",
    "Const",
    "ConstList",
    "FieldRef",
    "Not",
    "Operand",
    "Or",
    "Scalar",
    "ScalarKind",
    "Truth",
]

ScalarKind: TypeAlias = Literal["number", "string", "boolean"]
Scalar: TypeAlias = str | int | float | bool
CompareOp: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"]


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A known field, read from the offer mapping when ``in_offer`` else the request."""

    path: str
    kind: FieldKind
    in_offer: bool


@dataclass(frozen=True, slots=True)
class Const:
    """A scalar literal; ``kind`` is ``boolean`` for bools (never ``number``)."""

    value: Scalar
    kind: ScalarKind


@dataclass(frozen=True, slots=True)
class ConstList:
    """A list (or tuple) literal of scalars of one kind; ``kind`` is None when empty."""

    values: frozenset[Scalar]
    kind: ScalarKind | None


Operand: TypeAlias = FieldRef | Const | ConstList


@dataclass(frozen=True, slots=True)
class Comparison:
    """``left op right`` with kinds already checked (one link of a comparison chain)."""

    op: CompareOp
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Truth:
    """A boolean field or literal used as a condition on its own."""

    operand: FieldRef | Const


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Condition, ...]


Condition: TypeAlias = Comparison | Truth | Not | And | Or
