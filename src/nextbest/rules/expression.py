"""The nextbest business-rule expression language.

A rule's ``when`` condition is a small, safe subset of Python expression syntax. It is
parsed with ``ast.parse(source, mode="eval")``, walked with a strict whitelist, checked
against the fields the bundle declares, and compiled once, at bundle load, into plain
Python closures. Nothing is ever passed to ``eval``, ``exec`` or ``compile``.

Syntax
    * fields: dotted paths rooted at ``customer``, ``context`` or ``offer``, e.g.
      ``customer.attributes.owned_products``; only declared fields are accepted;
    * literals: strings, integers, floats (``-`` only directly on a number), ``true`` /
      ``false`` (``True`` / ``False`` too), and lists ``[...]`` (or tuples) of literals
      of one kind, used on the right of ``in`` / ``not in``;
    * comparisons ``==  !=  <  <=  >  >=  in  not in``, chained as in Python
      (``0 < customer.clv <= 1500``); ``and``, ``or``, ``not``, parentheses.
    Anything else -- calls, indexing, arithmetic, ``is``, lambdas, comprehensions,
    f-strings, ``:=``, ``None``, names starting with ``_``, comments -- is refused. Line
    breaks and tabs count as spaces; an expression is at most 2000 characters.

Types (checked at compile time)
    Each field has a kind: ``number``, ``string``, ``boolean`` or ``string_list``.
    Ordering (``< <= > >=``) needs numbers on both sides; ``==`` / ``!=`` need the same
    kind on both sides (a boolean is never a number: ``true`` does not equal ``1``);
    ``x in y`` needs y to be a list literal or a string_list field, and x a single value
    of the list's element kind. The whole expression, and each operand of ``and``,
    ``or`` and ``not``, must be a condition; a boolean field alone is one.

Missing values
    A scalar field is *missing* when its key is absent or its value is ``None`` (or is of
    the wrong type: a number must be an ``int`` or ``float`` and never a ``bool``, a
    boolean must be a ``bool``, a string a ``str``). A comparison with a missing value
    is false for ``==``, ``<``, ``<=``, ``>``, ``>=`` and ``in``, and true for ``!=``
    and ``not in``: ``!=`` is always exactly ``not ==`` and ``not in`` exactly
    ``not in``. Note that therefore ``not (x < 5)`` is *not* ``x >= 5``: for a missing
    x the first is true and the second false. A boolean field used alone is true only
    when its value is ``true``. A missing string_list field is an empty list.
    ``and`` / ``or`` short-circuit; ``not e`` is always the negation of ``e``.

Evaluation
    ``Expression(request, offer)`` takes two flat mappings keyed by the full dotted
    path (``request["customer.clv"]``, ``offer["offer.product"]``); ``offer.*`` fields
    are read from ``offer``, all others from ``request``. An expression whose
    ``uses_offer`` is false does not depend on the offer, so its result for a request
    can be reused for every offer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ._checker import MAX_SOURCE_LENGTH, check
from ._compiler import compile_condition
from ._types import Evaluator, ExpressionError, FieldKind, Value

__all__ = [
    "MAX_SOURCE_LENGTH",
    "Evaluator",
    "Expression",
    "ExpressionError",
    "FieldKind",
    "Value",
    "compile_expression",
]


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled condition.

    ``source`` is the text it was compiled from, ``fields`` the dotted paths it reads,
    ``uses_offer`` whether any of them is an ``offer.*`` field. Call it with the request
    and offer facts; ``evaluate`` is the same function without the method call, for hot
    loops.
    """

    source: str
    fields: frozenset[str]
    uses_offer: bool
    evaluate: Evaluator = field(repr=False, compare=False)

    def __call__(self, request: Mapping[str, Value], offer: Mapping[str, Value]) -> bool:
        return self.evaluate(request, offer)


def compile_expression(source: str, fields: Mapping[str, FieldKind]) -> Expression:
    """Parse, check and compile ``source``.

    ``fields`` maps every known dotted path (``"customer.clv"``) to its kind. Raises
    ``ExpressionError`` for bad syntax, a refused construct, an unknown field or a type
    error, with the 1-based column it refers to when there is one.
    """
    condition, used = check(source, fields)
    return Expression(
        source=source,
        fields=used,
        uses_offer=any(path.startswith("offer.") for path in used),
        evaluate=compile_condition(condition),
    )
