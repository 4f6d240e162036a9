"""Compile a checked condition into plain Python closures (private).

Each node becomes one closure, once, at bundle load; evaluating it never looks at node
types again. The common shapes -- a field against a literal, a field in a list literal
-- get closures specialised by field kind and by the mapping the field lives in, so a
simple comparison is one dict lookup, one type test and one comparison. Every closure
returns a real ``bool``.

Missing values (absent key or ``None``) and values of the wrong type follow the rules
in the ``expression`` module docstring: the positive comparisons are false, ``!=`` and
``not in`` are their exact negations, a missing string_list is an empty list.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Final

from ._ir import (
    And,
    CompareOp,
    Comparison,
    Condition,
    Const,
    ConstList,
    FieldRef,
    Not,
    Operand,
    Scalar,
    Truth,
)
from ._types import Evaluator, Value

__all__ = ["compile_condition"]

Facts = Mapping[str, Value]

_NUMBER_TYPES: Final = frozenset({int, float})
_BOOLEAN_TYPES: Final = frozenset({bool})
_LIST_TYPES: Final = (list, tuple, frozenset, set)

_OPERATORS: Final[dict[CompareOp, Callable[[Any, Any], bool]]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
# ``not (a op b)`` is ``a negated-op b`` for these, missing values included; not for
# the orderings (``not x < 1`` is true for a missing x, ``x >= 1`` is false).
_NEGATED: Final[dict[CompareOp, CompareOp]] = {
    "==": "!=",
    "!=": "==",
    "in": "not in",
    "not in": "in",
}
# ``literal op field`` is compiled as ``field flipped-op literal``.
_FLIPPED: Final[dict[CompareOp, CompareOp]] = {
    "==": "==",
    "!=": "!=",
    "<": ">",
    "<=": ">=",
    ">": "<",
    ">=": "<=",
}


def compile_condition(condition: Condition) -> Evaluator:
    """Return the closure that evaluates ``condition`` on (request, offer)."""
    if isinstance(condition, Comparison):
        return _comparison(condition)
    if isinstance(condition, Truth):
        operand = condition.operand
        if isinstance(operand, Const):
            return _constant(operand.value is True)
        return _field_is(operand, True, negate=False)
    if isinstance(condition, Not):
        return _not(condition.operand)
    if isinstance(condition, And):
        return _and(tuple(compile_condition(part) for part in condition.operands))
    return _or(tuple(compile_condition(part) for part in condition.operands))


# --- constants and boolean structure ------------------------------------------------


def _always_true(_request: Facts, _offer: Facts) -> bool:
    return True


def _always_false(_request: Facts, _offer: Facts) -> bool:
    return False


def _constant(value: bool) -> Evaluator:
    return _always_true if value else _always_false


def _not(condition: Condition) -> Evaluator:
    if isinstance(condition, Truth) and isinstance(condition.operand, FieldRef):
        return _field_is(condition.operand, True, negate=True)
    if isinstance(condition, Comparison) and condition.op in _NEGATED:
        # Exact negations under the missing-value rules, without an extra call.
        negated = _NEGATED[condition.op]
        return _comparison(Comparison(negated, condition.left, condition.right))
    inner = compile_condition(condition)
    if inner is _always_true:
        return _always_false
    if inner is _always_false:
        return _always_true

    def evaluate(request: Facts, offer: Facts) -> bool:
        return not inner(request, offer)

    return evaluate


def _and(parts: tuple[Evaluator, ...]) -> Evaluator:
    if len(parts) == 2:
        first, second = parts

        def evaluate2(request: Facts, offer: Facts) -> bool:
            return first(request, offer) and second(request, offer)

        return evaluate2
    if len(parts) == 3:
        first, second, third = parts

        def evaluate3(request: Facts, offer: Facts) -> bool:
            return first(request, offer) and second(request, offer) and third(request, offer)

        return evaluate3

    def evaluate(request: Facts, offer: Facts) -> bool:
        return all(part(request, offer) for part in parts)

    return evaluate


def _or(parts: tuple[Evaluator, ...]) -> Evaluator:
    if len(parts) == 2:
        first, second = parts

        def evaluate2(request: Facts, offer: Facts) -> bool:
            return first(request, offer) or second(request, offer)

        return evaluate2
    if len(parts) == 3:
        first, second, third = parts

        def evaluate3(request: Facts, offer: Facts) -> bool:
            return first(request, offer) or second(request, offer) or third(request, offer)

        return evaluate3

    def evaluate(request: Facts, offer: Facts) -> bool:
        return any(part(request, offer) for part in parts)

    return evaluate


# --- comparisons --------------------------------------------------------------------


def _comparison(comparison: Comparison) -> Evaluator:
    op, left, right = comparison.op, comparison.left, comparison.right
    if op in ("in", "not in"):
        return _membership(left, right, negate=op == "not in")
    if isinstance(left, FieldRef):
        if isinstance(right, FieldRef):
            return _field_field(op, left, right)
        if isinstance(right, Const):
            return _field_const(op, left, right.value)
    elif isinstance(left, Const):
        if isinstance(right, FieldRef):
            return _field_const(_FLIPPED[op], right, left.value)
        if isinstance(right, Const):
            return _constant(bool(_OPERATORS[op](left.value, right.value)))
    raise AssertionError(f"comparison not checked: {comparison!r}")


def _field_const(op: CompareOp, field: FieldRef, literal: Scalar) -> Evaluator:
    if field.kind == "boolean":
        return _field_is(field, literal, negate=op == "!=")
    if field.kind == "string":
        return _string_equals(field, literal, negate=op == "!=")
    if op == "!=":
        return _number_not_equal(field, literal)
    return _number_compare(field, _OPERATORS[op], literal)


def _field_is(field: FieldRef, literal: Scalar, *, negate: bool) -> Evaluator:
    """``field == true/false`` (and a bare boolean field): only a real bool matches."""
    path = field.path
    if field.in_offer:
        if negate:

            def offer_is_not(_request: Facts, offer: Facts) -> bool:
                return offer.get(path) is not literal

            return offer_is_not

        def offer_is(_request: Facts, offer: Facts) -> bool:
            return offer.get(path) is literal

        return offer_is
    if negate:

        def request_is_not(request: Facts, _offer: Facts) -> bool:
            return request.get(path) is not literal

        return request_is_not

    def request_is(request: Facts, _offer: Facts) -> bool:
        return request.get(path) is literal

    return request_is


def _string_equals(field: FieldRef, literal: Scalar, *, negate: bool) -> Evaluator:
    """A missing or non-string value never equals a string literal."""
    path = field.path
    if field.in_offer:
        if negate:

            def offer_ne(_request: Facts, offer: Facts) -> bool:
                return offer.get(path) != literal

            return offer_ne

        def offer_eq(_request: Facts, offer: Facts) -> bool:
            return offer.get(path) == literal

        return offer_eq
    if negate:

        def request_ne(request: Facts, _offer: Facts) -> bool:
            return request.get(path) != literal

        return request_ne

    def request_eq(request: Facts, _offer: Facts) -> bool:
        return request.get(path) == literal

    return request_eq


def _number_compare(
    field: FieldRef, compare: Callable[[Any, Any], bool], literal: Scalar
) -> Evaluator:
    """``== < <= > >=`` on a number field: false unless the value is an int or float."""
    path = field.path
    numbers = _NUMBER_TYPES
    if field.in_offer:

        def offer_compare(_request: Facts, offer: Facts) -> bool:
            value = offer.get(path)
            return type(value) in numbers and compare(value, literal)

        return offer_compare

    def request_compare(request: Facts, _offer: Facts) -> bool:
        value = request.get(path)
        return type(value) in numbers and compare(value, literal)

    return request_compare


def _number_not_equal(field: FieldRef, literal: Scalar) -> Evaluator:
    path = field.path
    numbers = _NUMBER_TYPES
    if field.in_offer:

        def offer_ne(_request: Facts, offer: Facts) -> bool:
            value = offer.get(path)
            return type(value) not in numbers or value != literal

        return offer_ne

    def request_ne(request: Facts, _offer: Facts) -> bool:
        value = request.get(path)
        return type(value) not in numbers or value != literal

    return request_ne


def _is_valid(kind: str) -> Callable[[object], bool]:
    if kind == "number":
        return lambda value: type(value) in _NUMBER_TYPES
    if kind == "boolean":
        return lambda value: value is True or value is False
    return lambda value: isinstance(value, str)


def _field_field(op: CompareOp, left: FieldRef, right: FieldRef) -> Evaluator:
    """Two fields (rare): false when either is missing, ``!=`` its negation."""
    left_valid, right_valid = _is_valid(left.kind), _is_valid(right.kind)
    left_side, left_path = int(left.in_offer), left.path
    right_side, right_path = int(right.in_offer), right.path
    negate = op == "!="
    compare = _OPERATORS["==" if negate else op]

    def evaluate(request: Facts, offer: Facts) -> bool:
        facts = (request, offer)
        a = facts[left_side].get(left_path)
        b = facts[right_side].get(right_path)
        return (left_valid(a) and right_valid(b) and compare(a, b)) is not negate

    return evaluate


# --- membership ---------------------------------------------------------------------


def _membership(left: Operand, right: Operand, *, negate: bool) -> Evaluator:
    if isinstance(right, ConstList):
        if not right.values:
            return _constant(negate)
        if isinstance(left, Const):
            return _constant((left.value in right.values) is not negate)
        if isinstance(left, FieldRef):
            if left.kind == "string":
                return _string_in_set(left, right.values, negate=negate)
            types = _NUMBER_TYPES if left.kind == "number" else _BOOLEAN_TYPES
            return _typed_in_set(left, types, right.values, negate=negate)
    elif isinstance(right, FieldRef):
        if isinstance(left, Const):
            return _literal_in_list_field(left.value, right, negate=negate)
        if isinstance(left, FieldRef):
            return _field_in_list_field(left, right, negate=negate)
    raise AssertionError(f"membership not checked: {left!r} in {right!r}")


def _string_in_set(field: FieldRef, values: frozenset[Scalar], *, negate: bool) -> Evaluator:
    """A missing value is in no list; an unhashable (wrong-typed) one neither."""
    path = field.path
    if field.in_offer:
        if negate:

            def offer_not_in(_request: Facts, offer: Facts) -> bool:
                try:
                    return offer.get(path) not in values
                except TypeError:
                    return True

            return offer_not_in

        def offer_in(_request: Facts, offer: Facts) -> bool:
            try:
                return offer.get(path) in values
            except TypeError:
                return False

        return offer_in
    if negate:

        def request_not_in(request: Facts, _offer: Facts) -> bool:
            try:
                return request.get(path) not in values
            except TypeError:
                return True

        return request_not_in

    def request_in(request: Facts, _offer: Facts) -> bool:
        try:
            return request.get(path) in values
        except TypeError:
            return False

    return request_in


def _typed_in_set(
    field: FieldRef, types: frozenset[type], values: frozenset[Scalar], *, negate: bool
) -> Evaluator:
    """Numbers and booleans: the type test keeps ``True`` out of ``[1]`` and vice versa."""
    path = field.path
    if field.in_offer:
        if negate:

            def offer_not_in(_request: Facts, offer: Facts) -> bool:
                value = offer.get(path)
                return type(value) not in types or value not in values

            return offer_not_in

        def offer_in(_request: Facts, offer: Facts) -> bool:
            value = offer.get(path)
            return type(value) in types and value in values

        return offer_in
    if negate:

        def request_not_in(request: Facts, _offer: Facts) -> bool:
            value = request.get(path)
            return type(value) not in types or value not in values

        return request_not_in

    def request_in(request: Facts, _offer: Facts) -> bool:
        value = request.get(path)
        return type(value) in types and value in values

    return request_in


def _literal_in_list_field(literal: Scalar, field: FieldRef, *, negate: bool) -> Evaluator:
    """``"gas" in customer.attributes.owned_products``; a missing list is empty."""
    side, path = int(field.in_offer), field.path
    lists = _LIST_TYPES

    def evaluate(request: Facts, offer: Facts) -> bool:
        items = (request, offer)[side].get(path)
        return (isinstance(items, lists) and literal in items) is not negate

    return evaluate


def _field_in_list_field(left: FieldRef, right: FieldRef, *, negate: bool) -> Evaluator:
    """``offer.product in customer.attributes.owned_products``."""
    left_side, left_path = int(left.in_offer), left.path
    right_side, right_path = int(right.in_offer), right.path
    lists = _LIST_TYPES
    if left.in_offer and not right.in_offer:
        # The common shape, evaluated once per offer: spare it the side lookups.

        def offer_in_request(request: Facts, offer: Facts) -> bool:
            value = offer.get(left_path)
            items = request.get(right_path)
            return (
                isinstance(value, str) and isinstance(items, lists) and value in items
            ) is not negate

        return offer_in_request

    def evaluate(request: Facts, offer: Facts) -> bool:
        facts = (request, offer)
        value = facts[left_side].get(left_path)
        items = facts[right_side].get(right_path)
        return (isinstance(value, str) and isinstance(items, lists) and value in items) is not (
            negate
        )

    return evaluate
