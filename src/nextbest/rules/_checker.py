"""Parse a condition and check it against the known fields (private).

Parsing uses ``ast.parse(..., mode="eval")`` only to get a tree; nothing is ever
evaluated or compiled to bytecode. The tree is walked with a strict whitelist: every
node type the language does not know is refused with an ``ExpressionError`` that names
the construct and its column. What comes out is the typed form in ``_ir``.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Mapping, Sequence
from typing import Final, get_args

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
    Or,
    Scalar,
    ScalarKind,
    Truth,
)
from ._types import ExpressionError, FieldKind

__all__ = ["MAX_SOURCE_LENGTH", "ROOTS", "check"]

MAX_SOURCE_LENGTH: Final = 2000
ROOTS: Final = frozenset({"customer", "context", "offer"})
_FIELD_KINDS: Final = frozenset(get_args(FieldKind))
_BOOLEAN_NAMES: Final = {"true": True, "false": False}
_SUGGEST_CUTOFF: Final = 0.6
_SUGGEST_MARGIN: Final = 0.03

_COMPARE_OPS: Final[dict[type[ast.cmpop], CompareOp]] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_ORDERING: Final = frozenset({"<", "<=", ">", ">="})

_BINOP_SYMBOLS: Final[dict[type[ast.operator], str]] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.MatMult: "@",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
}

# What a refused node is called in the error message ("... are not allowed").
_REFUSED: Final[dict[type[ast.AST], str]] = {
    ast.Call: "function calls are",
    ast.Subscript: "subscripts ([...] indexing) are",
    ast.Slice: "slices are",
    ast.Lambda: "lambda expressions are",
    ast.ListComp: "comprehensions are",
    ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are",
    ast.GeneratorExp: "generator expressions are",
    ast.JoinedStr: "f-strings are",
    ast.FormattedValue: "f-strings are",
    ast.NamedExpr: "assignment expressions (:=) are",
    ast.IfExp: "conditional expressions (x if c else y) are",
    ast.Dict: "dict literals are",
    ast.Set: "set literals are (use a list [...])",
    ast.Starred: "starred expressions are",
    ast.Await: "await is",
    ast.Yield: "yield is",
    ast.YieldFrom: "yield is",
}


def check(source: str, fields: Mapping[str, FieldKind]) -> tuple[Condition, frozenset[str]]:
    """Parse and check ``source``; return its typed form and the field paths it uses."""
    if not isinstance(source, str):
        raise ExpressionError(f"an expression must be a string, not {type(source).__name__}")
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            f"the expression is {len(source)} characters long; the maximum is {MAX_SOURCE_LENGTH}"
        )
    text = _normalise(source)
    body = text.lstrip(" ")
    if not body.strip(" "):
        raise ExpressionError("the expression is empty")
    checker = _Checker(body, len(text) - len(body), fields)
    try:
        tree = ast.parse(body, mode="eval")
    except SyntaxError as exc:
        raise checker.syntax_error(exc) from None
    except ValueError as exc:  # e.g. NUL characters
        raise ExpressionError(f"syntax error: {exc}") from None
    try:
        condition = checker.condition(tree.body, "the expression")
    except RecursionError:
        raise ExpressionError("the expression is nested too deeply") from None
    return condition, frozenset(checker.used)


def _normalise(source: str) -> str:
    """Turn line breaks and tabs outside string literals into spaces.

    Conditions come from YAML, where a block scalar keeps its line breaks; Python's
    eval mode would refuse them. Each character maps to one character, so columns in
    the result are columns in the source. Comments and triple-quoted strings are
    refused: a comment would swallow the rest of the (now single-line) expression.
    """
    out: list[str] = []
    quote = ""
    escaped = False
    for index, char in enumerate(source):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "'\"":
            if source.startswith(char * 3, index):
                raise ExpressionError("triple-quoted strings are not allowed", index + 1)
            quote = char
        elif char == "#":
            raise ExpressionError("comments ('#') are not allowed", index + 1)
        elif char in "\r\n\t\f\v":
            char = " "
        out.append(char)
    return "".join(out)


def _kind_of(operand: Operand) -> str:
    if isinstance(operand, ConstList):
        return "list"
    return operand.kind


def _describe(operand: Operand) -> str:
    if isinstance(operand, FieldRef):
        return f"{operand.path} ({operand.kind})"
    if isinstance(operand, ConstList):
        return "a list literal"
    return f"{_literal_text(operand.value)} ({operand.kind})"


def _literal_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def _close_matches(name: str, known: Sequence[str]) -> list[str]:
    """Up to three known names most like ``name``, best first.

    Paths share long prefixes (``customer.attributes.``), which lifts every score; only
    names scoring close to the best one are kept, so a typo gets one suggestion.
    """
    matcher = difflib.SequenceMatcher(b=name)
    scored: list[tuple[float, str]] = []
    for candidate in known:
        matcher.set_seq1(candidate)
        score = matcher.ratio()
        if score >= _SUGGEST_CUTOFF:
            scored.append((score, candidate))
    if not scored:
        return []
    scored.sort(key=lambda item: (-item[0], item[1]))
    best = scored[0][0]
    return [candidate for score, candidate in scored[:3] if score >= best - _SUGGEST_MARGIN]


def _quoted_list(names: Sequence[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


class _Checker:
    def __init__(self, text: str, lead: int, fields: Mapping[str, FieldKind]) -> None:
        self.text = text
        self.encoded = text.encode("utf-8")
        self.lead = lead
        self.fields = fields
        self.used: set[str] = set()

    # --- errors -------------------------------------------------------------------

    def column(self, node: ast.AST) -> int | None:
        offset: int | None = getattr(node, "col_offset", None)
        if offset is None:
            return None
        return self.byte_column(offset)

    def byte_column(self, offset: int) -> int:
        # ast offsets count UTF-8 bytes; columns count characters.
        return self.lead + len(self.encoded[:offset].decode("utf-8", errors="replace")) + 1

    def error(self, message: str, node: ast.AST) -> ExpressionError:
        return ExpressionError(message, self.column(node))

    def is_column(self, left: ast.expr, right: ast.expr) -> int | None:
        """The column of the ``is`` between two operands (ast has no operator positions)."""
        start, end = left.end_col_offset, right.col_offset
        if start is not None:
            found = self.encoded.find(b"is", start, end)
            if found >= 0:
                return self.byte_column(found)
        return self.column(right)

    def syntax_error(self, exc: SyntaxError) -> ExpressionError:
        message = exc.msg
        if exc.offset is None or exc.offset < 1:
            # CPython reports an expression that ends too early at offset 0.
            if message == "invalid syntax":
                message = "invalid syntax (the expression ends too early)"
            column = self.lead + len(self.text.rstrip(" ")) + 1
        else:
            column = self.lead + exc.offset
        return ExpressionError(f"syntax error: {message}", column)

    def refusal(self, node: ast.AST) -> ExpressionError:
        if isinstance(node, ast.BinOp):
            symbol = _BINOP_SYMBOLS.get(type(node.op), type(node.op).__name__)
            return self.error(f"arithmetic ('{symbol}') is not allowed", node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return self.error("unary minus is only allowed on a number literal", node)
            symbol = "~" if isinstance(node.op, ast.Invert) else "+"
            return self.error(f"unary '{symbol}' is not allowed", node)
        what = _REFUSED.get(type(node))
        if what is None:
            what = f"{type(node).__name__} expressions are"
        return self.error(f"{what} not allowed", node)

    def unknown_field(self, path: str, node: ast.AST) -> ExpressionError:
        known = sorted(self.fields)
        close = _close_matches(path, known)
        if not close:
            last = path.rsplit(".", 1)[-1]
            close = [name for name in known if name.rsplit(".", 1)[-1] == last][:3]
        if close:
            hint = f"did you mean {_quoted_list(close)}?"
        elif known:
            hint = "known fields: " + ", ".join(known)
        else:
            hint = "no fields are known"
        return self.error(f"unknown field '{path}'; {hint}", node)

    # --- conditions ---------------------------------------------------------------

    def condition(self, node: ast.expr, role: str) -> Condition:
        """A node that must be true or false; ``role`` names it in error messages."""
        if isinstance(node, ast.BoolOp):
            word = "and" if isinstance(node.op, ast.And) else "or"
            parts = tuple(self.condition(value, f"an operand of '{word}'") for value in node.values)
            return And(parts) if isinstance(node.op, ast.And) else Or(parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.condition(node.operand, "the operand of 'not'")
            return inner.operand if isinstance(inner, Not) else Not(inner)
        if isinstance(node, ast.Compare):
            return self.comparison(node)
        operand = self.operand(node)
        if isinstance(operand, FieldRef | Const) and operand.kind == "boolean":
            return Truth(operand)
        raise self.error(
            f"{role} must be a condition (true or false), but it is {_describe(operand)}; "
            "compare it with something",
            node,
        )

    def comparison(self, node: ast.Compare) -> Condition:
        nodes = [node.left, *node.comparators]
        for part in nodes:
            if isinstance(part, ast.Compare | ast.BoolOp) or (
                isinstance(part, ast.UnaryOp) and isinstance(part.op, ast.Not)
            ):
                raise self.error("a comparison can only compare fields and literals", part)
        ops: list[CompareOp] = []
        for index, cmpop in enumerate(node.ops):
            op = _COMPARE_OPS.get(type(cmpop))
            if op is None:
                message = "'is' and 'is not' are not allowed; use == or !="
                raise ExpressionError(message, self.is_column(nodes[index], nodes[index + 1]))
            ops.append(op)
        operands = [self.operand(part) for part in nodes]
        links: list[Condition] = []
        for index, op in enumerate(ops):
            left, right = operands[index], operands[index + 1]
            self.check_kinds(op, left, right, nodes[index], nodes[index + 1])
            links.append(Comparison(op, left, right))
        return links[0] if len(links) == 1 else And(tuple(links))

    def check_kinds(
        self, op: CompareOp, left: Operand, right: Operand, lnode: ast.expr, rnode: ast.expr
    ) -> None:
        lkind, rkind = _kind_of(left), _kind_of(right)
        if op in ("in", "not in"):
            if lkind in ("list", "string_list"):
                raise self.error(
                    f"the left side of '{op}' must be a single value, not a list", lnode
                )
            if isinstance(right, ConstList):
                element = right.kind
            elif rkind == "string_list":
                element = "string"
            else:
                raise self.error(
                    f"'{op}' needs a list literal or a string_list field on its right, "
                    f"but this is {_describe(right)}",
                    rnode,
                )
            if element is not None and element != lkind:
                raise self.error(
                    f"'{op}' looks for {_describe(left)} in a list of {element}s", lnode
                )
            return
        for operand, part in ((left, lnode), (right, rnode)):
            if isinstance(operand, ConstList) or operand.kind == "string_list":
                raise self.error(
                    f"{_describe(operand)} is a list; a list can only be on the right "
                    "of 'in' or 'not in'",
                    part,
                )
        if op in _ORDERING:
            for operand, part in ((left, lnode), (right, rnode)):
                if _kind_of(operand) != "number":
                    raise self.error(
                        f"'{op}' compares numbers, but this is {_describe(operand)}", part
                    )
            return
        if lkind != rkind:
            raise self.error(f"cannot compare {_describe(left)} with {_describe(right)}", rnode)

    # --- operands -----------------------------------------------------------------

    def operand(self, node: ast.expr) -> Operand:
        if isinstance(node, ast.Attribute | ast.Name):
            return self.reference(node)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = node.operand
            if (
                isinstance(inner, ast.Constant)
                and isinstance(inner.value, int | float)
                and not isinstance(inner.value, bool)
            ):
                return Const(-inner.value, "number")
            raise self.refusal(node)
        if isinstance(node, ast.List | ast.Tuple):
            return self.list_literal(node)
        raise self.refusal(node)

    def reference(self, node: ast.Attribute | ast.Name) -> Operand:
        parts: list[str] = []
        current: ast.expr = node
        while isinstance(current, ast.Attribute):
            if current.attr.startswith("_"):
                raise self.error(
                    f"names starting with '_' are not allowed ('{current.attr}')", current
                )
            parts.append(current.attr)
            current = current.value
        if not isinstance(current, ast.Name):
            raise self.error(
                "attribute access is only allowed on fields (customer.*, context.*, offer.*)",
                node,
            )
        root = current.id
        if root.startswith("_"):
            raise self.error(f"names starting with '_' are not allowed ('{root}')", current)
        if root not in ROOTS:
            if not parts and root in _BOOLEAN_NAMES:
                return Const(_BOOLEAN_NAMES[root], "boolean")
            if parts or root in _BOOLEAN_NAMES:
                raise self.error(
                    f"'{root}' has no attributes; fields start with customer., context. or offer.",
                    node,
                )
            raise self.unknown_name(root, node)
        if not parts:
            raise self.error(f"'{root}' alone is not a field; name one, e.g. {root}.<field>", node)
        path = ".".join([root, *reversed(parts)])
        kind = self.fields.get(path)
        if kind is None:
            raise self.unknown_field(path, node)
        if kind not in _FIELD_KINDS:
            raise ValueError(f"field {path!r} has an unknown kind {kind!r}")
        self.used.add(path)
        return FieldRef(path, kind, root == "offer")

    def unknown_name(self, name: str, node: ast.AST) -> ExpressionError:
        suffix_matches = [path for path in sorted(self.fields) if path.endswith("." + name)]
        hint = f"; did you mean {_quoted_list(suffix_matches[:3])}?" if suffix_matches else ""
        return self.error(
            f"unknown name '{name}': a field starts with customer., context. or offer., "
            f"and the only other names are true and false{hint}",
            node,
        )

    def constant(self, node: ast.Constant) -> Const:
        value = node.value
        if isinstance(value, bool):
            return Const(value, "boolean")
        if isinstance(value, str):
            return Const(value, "string")
        if isinstance(value, int | float):
            return Const(value, "number")
        if value is None:
            raise self.error("None is not allowed; an absent or null field is simply missing", node)
        raise self.error(f"{type(value).__name__} literals are not allowed", node)

    def list_literal(self, node: ast.List | ast.Tuple) -> ConstList:
        values: list[Scalar] = []
        kind: ScalarKind | None = None
        for element in node.elts:
            if isinstance(element, ast.List | ast.Tuple):
                raise self.error("lists cannot be nested", element)
            if isinstance(element, ast.Attribute | ast.Name) and not (
                isinstance(element, ast.Name) and element.id in _BOOLEAN_NAMES
            ):
                raise self.error("list elements must be literals, not fields", element)
            item = self.operand(element)
            if not isinstance(item, Const):  # pragma: no cover - refused above
                raise self.error("list elements must be literals", element)
            if kind is None:
                kind = item.kind
            elif item.kind != kind:
                raise self.error(f"a list mixes {kind} and {item.kind} elements", element)
            values.append(item.value)
        return ConstList(frozenset(values), kind)
