"""Business rules: the safe condition language (see ``nextbest.rules.expression``)."""

from .expression import (
    MAX_SOURCE_LENGTH,
    Evaluator,
    Expression,
    ExpressionError,
    FieldKind,
    Value,
    compile_expression,
)

__all__ = [
    "MAX_SOURCE_LENGTH",
    "Evaluator",
    "Expression",
    "ExpressionError",
    "FieldKind",
    "Value",
    "compile_expression",
]
