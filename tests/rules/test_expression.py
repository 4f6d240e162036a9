"""The business-rule expression language: syntax, checks, semantics, properties."""

from __future__ import annotations

import ast
import dataclasses
import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nextbest.rules import (
    MAX_SOURCE_LENGTH,
    Expression,
    ExpressionError,
    FieldKind,
    Value,
    compile_expression,
)

RULES_YAML = Path(__file__).resolve().parents[2] / "models" / "demo-energy" / "rules.yaml"

FIELDS: dict[str, FieldKind] = {
    "customer.id": "string",
    "customer.clv": "number",
    "customer.lifecycle_stage": "string",
    "customer.attributes.tenure_months": "number",
    "customer.attributes.owned_products": "string_list",
    "customer.attributes.churn_score": "number",
    "customer.attributes.marketing_consent": "boolean",
    "customer.attributes.region": "string",
    "context.channel": "string",
    "context.call_reason": "string",
    "context.wait_time_s": "number",
    "context.attributes.page": "string",
    "offer.id": "string",
    "offer.category": "string",
    "offer.product": "string",
    "offer.tags": "string_list",
    "offer.value": "number",
}

Facts = dict[str, Value]


def compile_(source: str) -> Expression:
    return compile_expression(source, FIELDS)


def holds(source: str, request: Facts, offer: Facts | None = None) -> bool:
    return compile_(source)(request, offer or {})


def error_for(source: str, fields: Mapping[str, FieldKind] = FIELDS) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source, fields)
    return info.value


# --- the demo bundle ----------------------------------------------------------------


def demo_rules() -> dict[str, str]:
    rules = yaml.safe_load(RULES_YAML.read_text())["rules"]
    return {rule["id"]: rule["when"] for rule in rules}


CALM: Facts = {
    "customer.clv": 800.0,
    "customer.lifecycle_stage": "loyal",
    "customer.attributes.owned_products": ["gas"],
    "customer.attributes.marketing_consent": True,
    "context.channel": "call_center",
    "context.call_reason": "billing_question",
    "context.wait_time_s": 60,
}

# (rule id, changes to CALM, offer facts, expected truth of `when`)
DEMO_CASES: list[tuple[str, Facts, Facts, bool]] = [
    ("no_sales_on_complaint_or_cancellation", {}, {}, False),
    ("no_sales_on_complaint_or_cancellation", {"context.call_reason": "complaint"}, {}, True),
    (
        "no_sales_on_complaint_or_cancellation",
        {"context.call_reason": "contract_cancellation"},
        {},
        True,
    ),
    ("no_sales_on_complaint_or_cancellation", {"context.call_reason": None}, {}, False),
    ("no_sales_after_long_wait", {}, {}, False),
    ("no_sales_after_long_wait", {"context.wait_time_s": 300}, {}, False),
    ("no_sales_after_long_wait", {"context.wait_time_s": 300.5}, {}, True),
    ("no_sales_after_long_wait", {"context.wait_time_s": None}, {}, False),
    ("service_recovery_after_long_wait", {"context.wait_time_s": 301}, {}, True),
    ("service_recovery_on_complaint", {"context.call_reason": "complaint"}, {}, True),
    ("service_recovery_on_complaint", {}, {}, False),
    ("service_recovery_needs_a_reason", {}, {}, False),
    ("service_recovery_needs_a_reason", {"context.wait_time_s": 900}, {}, True),
    ("retention_for_risk_or_value", {}, {}, False),
    ("retention_for_risk_or_value", {"customer.lifecycle_stage": "at_risk"}, {}, True),
    ("retention_for_risk_or_value", {"customer.clv": 1500.01}, {}, True),
    ("retention_for_risk_or_value", {"customer.clv": 1500}, {}, False),
    (
        "retention_for_risk_or_value",
        {"context.call_reason": "contract_cancellation", "customer.clv": None},
        {},
        True,
    ),
    ("winback_only_for_lapsed", {"customer.lifecycle_stage": "lapsed"}, {}, True),
    ("winback_only_for_lapsed", {}, {}, False),
    ("not_already_owned", {}, {"offer.product": "gas"}, True),
    ("not_already_owned", {}, {"offer.product": "green_tariff"}, False),
    (
        "not_already_owned",
        {"customer.attributes.owned_products": None},
        {"offer.product": "gas"},
        False,
    ),
    ("not_already_owned", {}, {}, False),
    ("marketing_consent", {"context.channel": "web"}, {}, False),
    (
        "marketing_consent",
        {"context.channel": "web", "customer.attributes.marketing_consent": False},
        {},
        True,
    ),
    # No consent given at all is not the same as consent refused.
    (
        "marketing_consent",
        {"context.channel": "web", "customer.attributes.marketing_consent": None},
        {},
        False,
    ),
    ("payment_plan_for_payment_issues", {}, {}, True),
    ("payment_plan_for_payment_issues", {"context.call_reason": "move_house"}, {}, False),
    ("outage_update_on_outage", {"context.call_reason": "outage_report"}, {}, True),
    ("onboarding_for_new_customers", {"customer.lifecycle_stage": "growing"}, {}, True),
    ("onboarding_for_new_customers", {}, {}, False),
    ("movers_are_open_to_cross_sell", {"context.call_reason": "move_house"}, {}, True),
]


def test_every_demo_rule_compiles() -> None:
    rules = demo_rules()
    assert len(rules) >= 10
    for rule_id, source in rules.items():
        expression = compile_(source)
        assert expression.source == source, rule_id
    assert {case[0] for case in DEMO_CASES} == set(rules)


@pytest.mark.parametrize(("rule_id", "changes", "offer", "expected"), DEMO_CASES)
def test_demo_rules_evaluate(rule_id: str, changes: Facts, offer: Facts, expected: bool) -> None:
    request = {**CALM, **changes}
    expression = compile_(demo_rules()[rule_id])
    assert expression(request, offer) is expected
    assert expression.evaluate(request, offer) is expected


def test_demo_rules_use_the_offer_only_where_they_name_it() -> None:
    uses_offer = {rule_id for rule_id, src in demo_rules().items() if compile_(src).uses_offer}
    assert uses_offer == {"not_already_owned"}


# --- the public objects -------------------------------------------------------------


def test_fields_and_uses_offer() -> None:
    expression = compile_(
        "customer.clv > 1 and (offer.product in customer.attributes.owned_products or "
        'context.call_reason == "complaint") and customer.clv < 9'
    )
    assert expression.fields == frozenset(
        {
            "customer.clv",
            "offer.product",
            "customer.attributes.owned_products",
            "context.call_reason",
        }
    )
    assert expression.uses_offer
    plain = compile_("customer.attributes.marketing_consent")
    assert plain.fields == frozenset({"customer.attributes.marketing_consent"})
    assert not plain.uses_offer
    assert compile_("true").fields == frozenset()
    assert compile_('"gas" in offer.tags').uses_offer


def test_expression_is_frozen_and_compares_by_source() -> None:
    expression = compile_("customer.clv > 1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        expression.source = "x"  # type: ignore[misc]
    assert expression == compile_("customer.clv > 1")
    assert hash(expression) == hash(compile_("customer.clv > 1"))
    assert "customer.clv > 1" in repr(expression)


def test_error_attributes_and_str() -> None:
    error = error_for("customer.clv > 1 and customer.atributes.tenure > 3")
    assert error.column == 22
    assert error.message == (
        "unknown field 'customer.atributes.tenure'; "
        "did you mean 'customer.attributes.tenure_months'?"
    )
    assert str(error) == f"column 22: {error.message}"
    whole = ExpressionError("the expression is empty")
    assert whole.column is None
    assert str(whole) == "the expression is empty"
    assert isinstance(error, Exception)


# --- refused constructs -------------------------------------------------------------

REFUSED: list[tuple[str, str, int]] = [
    # (source, part of the message, column)
    ("len(customer.id) > 3", "function calls are not allowed", 1),
    ("customer.attributes.owned_products[0] == 'gas'", "subscripts", 1),
    ("(lambda: true)", "lambda", 2),
    ("[p for p in customer.attributes.owned_products] == []", "comprehensions", 1),
    ("any(p for p in offer.tags)", "function calls", 1),
    ('f"{customer.id}" == "x"', "f-strings are not allowed", 1),
    ("customer.clv + 1 > 2", "arithmetic ('+')", 1),
    ("customer.clv > 2 * 3", "arithmetic ('*')", 16),
    ("customer.clv > -customer.clv", "unary minus is only allowed on a number literal", 16),
    ("customer.clv > +3", "unary '+'", 16),
    ("customer.clv > ~3", "unary '~'", 16),
    ("customer.clv > --3", "unary minus", 16),
    ("-true == false", "unary minus", 1),
    ("customer.attributes.marketing_consent is true", "'is' and 'is not' are not allowed", 39),
    ("customer.clv is not None", "'is' and 'is not'", 14),
    ("(customer.clv)is(1)", "'is' and 'is not'", 15),
    ("(x := customer.clv) > 1", "assignment expressions", 2),
    ("customer.clv if true else false", "conditional expressions", 1),
    ('{"a": 1} == 1', "dict literals", 1),
    ('context.channel in {"web"}', "set literals", 20),
    ("customer.clv == None", "None is not allowed", 17),
    ('b"x" == context.channel', "bytes literals", 1),
    ("customer.clv == 1j", "complex literals", 17),
    ("customer.clv == ...", "ellipsis literals", 17),
    ("x == 1", "unknown name 'x'", 1),
    ("clv > 1", "did you mean 'customer.clv'?", 1),
    ("null == customer.id", "unknown name 'null'", 1),
    ("customer == 1", "'customer' alone is not a field", 1),
    ("customer.id.upper == 'A'", "unknown field 'customer.id.upper'", 1),
    ('"abc".upper == "ABC"', "attribute access is only allowed on fields", 1),
    ("true.real", "'true' has no attributes", 1),
    ("os.path == 1", "'os' has no attributes", 1),
    ("context.channel in [context.call_reason]", "list elements must be literals", 21),
    ("context.channel in [['web']]", "lists cannot be nested", 21),
    ('context.channel in ["web", 1]', "a list mixes string and number elements", 28),
    ("context.channel in [*offer.tags]", "starred expressions", 21),
    ("customer.clv > 1 # a comment", "comments ('#') are not allowed", 18),
    ('context.channel == """web"""', "triple-quoted strings", 20),
    ("customer.clv > 1; true", "syntax error", 17),
    ("customer.clv > 1 if true", "expected 'else'", 1),
    ("customer.clv =", "syntax error", 14),
    ("customer.clv >", "the expression ends too early", 15),
    ("(customer.clv > 1", "'(' was never closed", 1),
    ('context.channel == "web', "unterminated string literal", 20),
    ("lambda: 1", "lambda expressions are not allowed", 1),
    ("import os", "syntax error", 1),
    ("customer.clv > 1 and\n  customer.clv <", "ends too early", 38),
]


@pytest.mark.parametrize(("source", "message", "column"), REFUSED)
def test_refused(source: str, message: str, column: int) -> None:
    error = error_for(source)
    assert message in error.message
    assert error.column == column


@pytest.mark.parametrize(
    "source",
    [
        '__import__("os").system("true")',
        "__import__('os')",
        "__builtins__",
        "customer.__class__",
        "customer.__class__.__bases__",
        "customer.__dict__ == 1",
        "customer._private == 1",
        "().__class__.__bases__[0].__subclasses__()",
        "''.__class__.__mro__[1].__subclasses__()",
        "[].__class__ == 1",
        "offer.__init__.__globals__",
        "customer.clv.__class__ == 1",
        "context.__len__() == 0",
        "eval('1')",
        "exec('import os')",
        "getattr(customer, 'clv') > 1",
        "open('/etc/passwd')",
        "globals()",
        "(lambda: __import__('os'))()",
        "[x for x in ().__class__.__base__.__subclasses__()]",
        "_ == 1",
    ],
)
def test_injection_payloads_are_refused(source: str) -> None:
    error = error_for(source)
    assert error.column is not None
    assert "not allowed" in error.message or "unknown" in error.message


def test_dunder_attributes_are_refused_by_name() -> None:
    error = error_for("customer.__class__ == 1")
    assert error.message == "names starting with '_' are not allowed ('__class__')"
    assert error.column == 1


def test_unknown_field_lists_known_fields_without_a_close_match() -> None:
    fields: dict[str, FieldKind] = {"customer.clv": "number", "context.channel": "string"}
    error = error_for("offer.zzz == 1", fields)
    assert error.message == "unknown field 'offer.zzz'; known fields: context.channel, customer.clv"
    assert error_for("offer.zzz == 1", {}).message.endswith("no fields are known")


def test_unknown_field_suggests_by_last_name() -> None:
    error = error_for("customer.owned_products == 1")
    assert "did you mean 'customer.attributes.owned_products'?" in error.message


def test_columns_count_characters_not_bytes() -> None:
    error = error_for('"äöü €" == context.channel and customer.cl > 1')
    assert error.column == 32
    syntax = error_for('"äöü" == ')
    assert syntax.column == 9


def test_columns_count_leading_whitespace_and_line_breaks() -> None:
    error = error_for("  customer.clv > 1 and\n    customer.clvv > 2")
    assert error.column == 28
    assert holds("  customer.clv > 1\n  and\tcustomer.clv < 3\n", {"customer.clv": 2})


def test_newlines_inside_a_string_literal_are_not_rewritten() -> None:
    assert "unterminated string literal" in error_for('context.channel == "a\nb"').message
    assert holds(r'context.channel == "a\nb"', {"context.channel": "a\nb"})


def test_length_limit() -> None:
    clause = "customer.clv > 1 or "
    source = clause * (MAX_SOURCE_LENGTH // len(clause)) + "true"
    assert len(source) > MAX_SOURCE_LENGTH
    error = error_for(source)
    assert error.column is None
    assert f"the maximum is {MAX_SOURCE_LENGTH}" in error.message
    fitting = clause * ((MAX_SOURCE_LENGTH - 4) // len(clause)) + "true"
    assert holds(fitting, {})


@pytest.mark.parametrize("source", ["", "   ", "\n\t"])
def test_empty_expression(source: str) -> None:
    error = error_for(source)
    assert error.message == "the expression is empty"


def test_non_string_source_is_an_expression_error() -> None:
    # YAML turns `when: true` into a bool.
    error = error_for(True)  # type: ignore[arg-type]
    assert error.message == "an expression must be a string, not bool"


def test_deep_nesting_is_refused_cleanly() -> None:
    error = error_for("(" * 300 + "true" + ")" * 300)
    assert "syntax error" in error.message
    # Double negations cancel at compile time, so a long chain of `not` is cheap.
    assert holds("not " * 400 + "true", {}) is True


def test_unknown_kind_in_fields_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        compile_expression("customer.x == 1", {"customer.x": "integer"})  # type: ignore[dict-item]


# --- type errors --------------------------------------------------------------------

TYPE_ERRORS: list[tuple[str, str, int]] = [
    ("customer.clv", "the expression must be a condition", 1),
    ('"yes"', "the expression must be a condition", 1),
    ("1", "but it is 1 (number)", 1),
    ("customer.attributes.owned_products", "but it is customer.attributes.owned_products", 1),
    ("customer.clv > 1 and customer.clv", "an operand of 'and' must be a condition", 22),
    ("context.channel or true", "an operand of 'or' must be a condition", 1),
    ("not customer.lifecycle_stage", "the operand of 'not' must be a condition", 5),
    ('["a"]', "but it is a list literal", 1),
    (
        'customer.lifecycle_stage < "b"',
        "'<' compares numbers, but this is customer.lifecycle_stage",
        1,
    ),
    ('"a" <= "b"', "'<=' compares numbers", 1),
    ("customer.attributes.marketing_consent > false", "'>' compares numbers", 1),
    ('customer.clv >= "1500"', 'but this is "1500" (string)', 17),
    ('customer.clv == "1500"', 'cannot compare customer.clv (number) with "1500" (string)', 17),
    ('"1500" != customer.clv', 'cannot compare "1500" (string) with customer.clv (number)', 11),
    ("customer.attributes.marketing_consent == 1", "(boolean) with 1 (number)", 42),
    ("customer.clv == true", "cannot compare customer.clv (number) with true (boolean)", 17),
    ('customer.attributes.marketing_consent != "no"', "(boolean) with", 42),
    ("customer.clv == context.channel", "cannot compare customer.clv", 17),
    ('context.wait_time_s in ["a", "b"]', "in a list of strings", 1),
    ("context.channel in [1, 2]", "looks for context.channel (string) in a list of numbers", 1),
    ("customer.clv in [true]", "in a list of booleans", 1),
    ("customer.clv in customer.attributes.owned_products", "in a list of strings", 1),
    ("1 in offer.tags", "looks for 1 (number)", 1),
    ("context.channel in context.call_reason", "'in' needs a list literal or a string_list", 20),
    ('"gas" in "gasoline"', "'in' needs a list literal", 10),
    ("context.channel not in 3", "'not in' needs a list literal", 24),
    ("offer.tags in customer.attributes.owned_products", "must be a single value", 1),
    ('["a"] in offer.tags', "must be a single value, not a list", 1),
    ('offer.tags == ["a"]', "offer.tags (string_list) is a list", 1),
    ('context.channel == ["web"]', "a list literal is a list", 20),
    ("offer.tags != offer.tags", "is a list", 1),
    ("(customer.clv > 1) == true", "a comparison can only compare fields and literals", 2),
    ("true == (customer.clv > 1)", "a comparison can only compare", 10),
    ("(true and false) == true", "a comparison can only compare", 2),
    ("(not true) == false", "a comparison can only compare", 2),
    ("0 < customer.clv < 'x'", "'<' compares numbers", 20),
]


@pytest.mark.parametrize(("source", "message", "column"), TYPE_ERRORS)
def test_type_errors(source: str, message: str, column: int) -> None:
    error = error_for(source)
    assert message in error.message
    assert error.column == column


def test_bare_boolean_field_and_literals_are_conditions() -> None:
    assert holds(
        "customer.attributes.marketing_consent", {"customer.attributes.marketing_consent": True}
    )
    assert holds("True", {})
    assert not holds("False", {})
    assert holds("true and not false", {})


# --- semantics ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("customer.clv == 5", False),
        ("customer.clv != 5", True),
        ("customer.clv < 5", False),
        ("customer.clv <= 5", False),
        ("customer.clv > 5", False),
        ("customer.clv >= 5", False),
        ("not customer.clv < 5", True),
        ("customer.clv in [1, 5]", False),
        ("customer.clv not in [1, 5]", True),
        ('customer.lifecycle_stage == "new"', False),
        ('customer.lifecycle_stage != "new"', True),
        ('customer.lifecycle_stage in ["new"]', False),
        ('customer.lifecycle_stage not in ["new"]', True),
        ("customer.attributes.marketing_consent == true", False),
        ("customer.attributes.marketing_consent == false", False),
        ("customer.attributes.marketing_consent != true", True),
        ("customer.attributes.marketing_consent != false", True),
        ("customer.attributes.marketing_consent", False),
        ("not customer.attributes.marketing_consent", True),
        ("customer.clv == customer.attributes.churn_score", False),
        ("customer.clv != customer.attributes.churn_score", True),
        ("customer.clv <= customer.attributes.churn_score", False),
        ("customer.lifecycle_stage == customer.attributes.region", False),
        ("offer.product in customer.attributes.owned_products", False),
        ("offer.product not in customer.attributes.owned_products", True),
        ('"gas" in customer.attributes.owned_products', False),
        ('"gas" not in customer.attributes.owned_products', True),
        ("0 < customer.clv < 10", False),
        ("customer.clv in []", False),
        ("customer.clv not in []", True),
    ],
)
@pytest.mark.parametrize("missing", ["absent", "none"])
def test_missing_values(source: str, expected: bool, missing: str) -> None:
    expression = compile_(source)
    if missing == "absent":
        request: Facts = {}
        offer: Facts = {}
    else:
        request = {path: None for path in FIELDS if not path.startswith("offer.")}
        offer = {path: None for path in FIELDS if path.startswith("offer.")}
    assert expression(request, offer) is expected


def test_missing_string_list_is_empty() -> None:
    assert not holds('"gas" in offer.tags', {}, {"offer.tags": None})
    assert holds('"gas" not in offer.tags', {}, {})
    assert holds(
        "offer.product not in customer.attributes.owned_products", {}, {"offer.product": "gas"}
    )
    owned: Facts = {"customer.attributes.owned_products": ["gas", "power"]}
    assert holds(
        "offer.product in customer.attributes.owned_products", owned, {"offer.product": "gas"}
    )
    assert holds('"power" in customer.attributes.owned_products', owned)


def test_bool_is_never_a_number() -> None:
    clv_true: Facts = {"customer.clv": True}
    assert not holds("customer.clv == 1", clv_true)
    assert holds("customer.clv != 1", clv_true)
    assert not holds("customer.clv > 0", clv_true)
    assert not holds("customer.clv >= 1", clv_true)
    assert not holds("customer.clv in [1, 2]", clv_true)
    assert holds("customer.clv not in [1, 2]", clv_true)
    assert not holds(
        "customer.clv == customer.attributes.churn_score",
        {**clv_true, "customer.attributes.churn_score": 1},
    )
    consent_one: Facts = {"customer.attributes.marketing_consent": 1}
    assert not holds("customer.attributes.marketing_consent == true", consent_one)
    assert not holds("customer.attributes.marketing_consent", consent_one)
    assert not holds("customer.attributes.marketing_consent in [true]", consent_one)
    consent_zero: Facts = {"customer.attributes.marketing_consent": 0}
    assert not holds("customer.attributes.marketing_consent == false", consent_zero)
    assert holds("customer.attributes.marketing_consent != false", consent_zero)


def test_ints_and_floats_compare_as_numbers() -> None:
    assert holds("customer.clv == 1500", {"customer.clv": 1500.0})
    assert holds("customer.clv == 1500.0", {"customer.clv": 1500})
    assert holds("customer.clv in [1, 2.5]", {"customer.clv": 1.0})
    assert holds("customer.clv > -0.5", {"customer.clv": 0})
    assert holds("customer.clv == -3", {"customer.clv": -3.0})
    assert holds(
        "customer.clv == customer.attributes.churn_score",
        {"customer.clv": 2, "customer.attributes.churn_score": 2.0},
    )


def test_wrong_typed_values_count_as_missing() -> None:
    assert not holds("customer.clv > 1", {"customer.clv": "5"})
    assert holds("customer.clv != 5", {"customer.clv": "5"})
    assert not holds('context.channel == "web"', {"context.channel": ["web"]})
    assert not holds('context.channel in ["web"]', {"context.channel": ["web"]})
    assert holds('context.channel not in ["web"]', {"context.channel": ["web"]})
    assert not holds('"web" in offer.tags', {}, {"offer.tags": "web"})
    assert not holds(
        "offer.product in customer.attributes.owned_products",
        {"customer.attributes.owned_products": "gas"},
        {"offer.product": "gas"},
    )
    # A tuple is not a declared Value, but a caller may pre-convert lists.
    assert holds('"web" in offer.tags', {}, {"offer.tags": ("web",)})  # type: ignore[dict-item]


def test_fields_are_read_from_the_right_mapping() -> None:
    # `offer.*` only from the offer, everything else only from the request.
    assert not holds('offer.product == "gas"', {"offer.product": "gas"}, {})
    assert holds('offer.product == "gas"', {}, {"offer.product": "gas"})
    assert not holds("customer.clv > 1", {}, {"customer.clv": 5})
    assert holds("offer.value > customer.clv", {"customer.clv": 1}, {"offer.value": 2})
    assert holds("customer.clv < offer.value", {"customer.clv": 1}, {"offer.value": 2})
    assert holds('offer.id in ["a"] and offer.category != "b"', {}, {"offer.id": "a"})
    assert holds("offer.value >= 1 and offer.value != 3", {}, {"offer.value": 2})


def test_literal_on_the_left_and_chains() -> None:
    facts: Facts = {"customer.clv": 100}
    assert holds("50 < customer.clv", facts)
    assert holds("100 >= customer.clv", facts)
    assert not holds("100 > customer.clv", facts)
    assert holds("50 < customer.clv <= 100", facts)
    assert not holds("50 < customer.clv < 100", facts)
    assert holds('"new" != customer.lifecycle_stage', {})
    assert holds("0 < customer.clv != 5 < 6", facts)


def test_constant_comparisons_fold() -> None:
    assert holds("1 < 2", {})
    assert not holds('"a" == "b"', {})
    assert holds('"a" in ["a", "b"] and "c" not in ["a"]', {})
    assert holds("true != false", {})
    assert holds("1 == 1.0", {})


def test_and_or_short_circuit() -> None:
    class Exploding(dict[str, Value]):
        def get(self, key: str, default: Any = None) -> Any:
            if key == "customer.clv":
                raise AssertionError("evaluated")
            return super().get(key, default)

    facts = Exploding({"context.channel": "web"})
    assert holds('context.channel == "web" or customer.clv > 1', facts)
    assert not holds('context.channel == "phone" and customer.clv > 1', facts)
    many = " and ".join(['context.channel == "phone"'] * 4 + ["customer.clv > 1"])
    assert not holds(many, facts)
    any_of = " or ".join(['context.channel == "web"'] * 4 + ["customer.clv > 1"])
    assert holds(any_of, facts)


def test_results_are_real_bools() -> None:
    sources = [
        "customer.clv > 1",
        'context.channel == "web"',
        "customer.attributes.marketing_consent",
        "offer.product in customer.attributes.owned_products",
        "customer.clv > 1 and customer.clv < 5",
        "customer.clv > 1 or customer.clv < 5",
        "not customer.clv > 1",
    ]
    for source in sources:
        requests: list[Facts] = [{}, {"customer.clv": 3, "context.channel": "web"}]
        for request in requests:
            result = holds(source, request)
            assert type(result) is bool, source


# --- properties against a reference interpreter -------------------------------------

PROPERTY_FIELDS: dict[str, FieldKind] = {
    "customer.clv": "number",
    "context.wait_time_s": "number",
    "offer.value": "number",
    "customer.lifecycle_stage": "string",
    "context.channel": "string",
    "offer.product": "string",
    "customer.attributes.marketing_consent": "boolean",
    "offer.flag": "boolean",
    "customer.attributes.owned_products": "string_list",
    "offer.tags": "string_list",
}
BY_KIND: dict[str, list[str]] = {
    kind: [path for path, k in PROPERTY_FIELDS.items() if k == kind]
    for kind in ("number", "string", "boolean", "string_list")
}
# Small pools, so that comparisons often hit; 1 and 0 meet the wrong-typed True / False.
NUMBERS = [-1, 0, 1, 1.0, 2.5]
STRINGS = ["a", "b", ""]
MISSING = object()


def _valid(kind: str, value: object) -> bool:
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)


def _lookup(path: str, request: Mapping[str, Value], offer: Mapping[str, Value]) -> object:
    value = (offer if path.startswith("offer.") else request).get(path)
    kind = PROPERTY_FIELDS[path]
    if kind == "string_list":
        return list(value) if isinstance(value, list | tuple) else []
    return value if _valid(kind, value) else MISSING


def _ref_value(node: ast.expr, request: Mapping[str, Value], offer: Mapping[str, Value]) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return {"true": True, "false": False}[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _ref_value(node.operand, request, offer)
        assert isinstance(value, int | float)
        return -value
    if isinstance(node, ast.List | ast.Tuple):
        return [_ref_value(element, request, offer) for element in node.elts]
    assert isinstance(node, ast.Attribute)
    return _lookup(ast.unparse(node), request, offer)


_REF_OPS: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def _ref_compare(op: ast.cmpop, left: object, right: object) -> bool:
    if isinstance(op, ast.NotEq):
        return not _ref_compare(ast.Eq(), left, right)
    if isinstance(op, ast.NotIn):
        return not _ref_compare(ast.In(), left, right)
    if isinstance(op, ast.In):
        assert isinstance(right, list)
        return left is not MISSING and any(
            type(left) is type(item) or {type(left), type(item)} <= {int, float}
            for item in right
            if item == left
        )
    if left is MISSING or right is MISSING:
        return False
    return _REF_OPS[type(op)](left, right)


def reference(node: ast.expr, request: Mapping[str, Value], offer: Mapping[str, Value]) -> bool:
    """The plain tree-walking reading of the language, for comparison."""
    if isinstance(node, ast.BoolOp):
        results = [reference(value, request, offer) for value in node.values]
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not reference(node.operand, request, offer)
    if isinstance(node, ast.Compare):
        values = [_ref_value(part, request, offer) for part in [node.left, *node.comparators]]
        return all(_ref_compare(op, values[i], values[i + 1]) for i, op in enumerate(node.ops))
    return _ref_value(node, request, offer) is True


def _literal(kind: str) -> st.SearchStrategy[str]:
    if kind == "number":
        return st.sampled_from(NUMBERS).map(repr)
    if kind == "boolean":
        return st.sampled_from(["true", "false", "True", "False"])
    return st.sampled_from(STRINGS).map(lambda s: f'"{s}"')


def _scalar(kind: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(BY_KIND[kind]), _literal(kind))


def _comparison(kind: str) -> st.SearchStrategy[str]:
    ops = ["==", "!="] + (["<", "<=", ">", ">="] if kind == "number" else [])
    field = st.sampled_from(BY_KIND[kind])
    pair = st.one_of(
        st.tuples(field, st.sampled_from(ops), _scalar(kind)),
        st.tuples(_literal(kind), st.sampled_from(ops), field),
        st.tuples(_literal(kind), st.sampled_from(ops), _literal(kind)),
    ).map(" ".join)
    in_list = st.tuples(
        _scalar(kind),
        st.sampled_from(["in", "not in"]),
        st.lists(_literal(kind), max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
    ).map(" ".join)
    options = [pair, in_list]
    if kind == "string":
        options.append(
            st.tuples(
                _scalar(kind),
                st.sampled_from(["in", "not in"]),
                st.sampled_from(BY_KIND["string_list"]),
            ).map(" ".join)
        )
    if kind == "number":
        options.append(
            st.tuples(
                _literal(kind),
                st.sampled_from(["<", "<="]),
                st.sampled_from(BY_KIND[kind]),
                st.sampled_from(["<", "<=", "!="]),
                _literal(kind),
            ).map(" ".join)
        )
    return st.one_of(*options)


ATOMS = st.one_of(
    _comparison("number"),
    _comparison("string"),
    _comparison("boolean"),
    st.sampled_from([*BY_KIND["boolean"], "true", "false"]),
)
EXPRESSIONS = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        inner.map(lambda e: f"not ({e})"),
        st.tuples(st.lists(inner, min_size=2, max_size=4), st.sampled_from(["and", "or"])).map(
            lambda parts: f" {parts[1]} ".join(f"({p})" for p in parts[0])
        ),
    ),
    max_leaves=12,
)


def _value_for(kind: str) -> st.SearchStrategy[Value]:
    """Mostly well-typed values, but also None and the wrong types that are easy to
    confuse with the right one (True for 1, 1 for True, a list for a string)."""
    right: st.SearchStrategy[Value]
    wrong: list[Value]
    if kind == "number":
        right, wrong = st.sampled_from(NUMBERS), [None, True, False, "1", ["a"]]
    elif kind == "string":
        right, wrong = st.sampled_from(STRINGS), [None, 1, True, ["a"]]
    elif kind == "boolean":
        right, wrong = st.booleans(), [None, 1, 0, "a"]
    else:
        right, wrong = st.lists(st.sampled_from(STRINGS), max_size=3), [None, "a", ("a",)]  # type: ignore[list-item]
    return st.one_of(right, st.sampled_from(wrong))


FACTS = st.fixed_dictionaries(
    {},
    optional={path: _value_for(kind) for path, kind in PROPERTY_FIELDS.items()},
)


def _split(facts: dict[str, Value]) -> tuple[dict[str, Value], dict[str, Value]]:
    request = {k: v for k, v in facts.items() if not k.startswith("offer.")}
    offer = {k: v for k, v in facts.items() if k.startswith("offer.")}
    return request, offer


def _all_values(kind: str) -> list[object]:
    """Every value the property tests use for a field of ``kind``, and absence."""
    if kind == "number":
        right: list[object] = list(NUMBERS)
        wrong: list[object] = [None, True, False, "1", ["a"]]
    elif kind == "string":
        right, wrong = list(STRINGS), [None, 1, True, ["a"]]
    elif kind == "boolean":
        right, wrong = [True, False], [None, 1, 0, "a"]
    else:
        right, wrong = [[], ["a"], ["a", "b"]], [None, "a", ("a",)]
    return [MISSING, *right, *wrong]


def _literals(kind: str) -> list[str]:
    if kind == "number":
        return [repr(n) for n in NUMBERS]
    if kind == "boolean":
        return ["true", "false"]
    return [f'"{s}"' for s in STRINGS]


def _every_comparison() -> list[tuple[str, str]]:
    """(source, field) for each field against each literal, list and field of its kind."""
    cases: list[tuple[str, str]] = []
    for path, kind in PROPERTY_FIELDS.items():
        if kind == "string_list":
            for literal in _literals("string"):
                cases += [(f"{literal} in {path}", path), (f"{literal} not in {path}", path)]
            for other in BY_KIND["string"]:
                cases += [(f"{other} in {path}", path), (f"{other} not in {path}", path)]
            continue
        ops = ["==", "!="] + (["<", "<=", ">", ">="] if kind == "number" else [])
        for op in ops:
            for literal in _literals(kind):
                cases += [(f"{path} {op} {literal}", path), (f"{literal} {op} {path}", path)]
            for other in BY_KIND[kind]:
                cases.append((f"{path} {op} {other}", path))
        for op in ("in", "not in"):
            cases += [
                (f"{path} {op} [{', '.join(_literals(kind))}]", path),
                (f"{path} {op} [{_literals(kind)[-1]}]", path),
                (f"{path} {op} []", path),
            ]
        if kind == "boolean":
            cases += [(path, path), (f"not {path}", path)]
    return cases


@pytest.mark.parametrize(("source", "path"), _every_comparison())
def test_every_comparison_agrees_with_reference(source: str, path: str) -> None:
    """Exhaustive over the value pools: each specialised closure, both mappings."""
    expression = compile_expression(source, PROPERTY_FIELDS)
    tree = ast.parse(source, mode="eval").body
    others = sorted(expression.fields - {path})
    for value in _all_values(PROPERTY_FIELDS[path]):
        other_values: list[object] = [MISSING]
        if others:
            other_values = _all_values(PROPERTY_FIELDS[others[0]])
        for other_value in other_values:
            facts = {} if value is MISSING else {path: value}
            if others and other_value is not MISSING:
                facts[others[0]] = other_value
            request, offer = _split(facts)  # type: ignore[arg-type]
            expected = reference(tree, request, offer)
            assert expression(request, offer) is expected, facts
            negated = compile_expression(f"not ({source})", PROPERTY_FIELDS)
            assert negated(request, offer) is (not expected), facts


@settings(max_examples=600, database=None, deadline=None)
@given(source=EXPRESSIONS, many_facts=st.lists(FACTS, min_size=10, max_size=10))
def test_compiled_agrees_with_reference(source: str, many_facts: list[dict[str, Value]]) -> None:
    expression = compile_expression(source, PROPERTY_FIELDS)
    tree = ast.parse(source, mode="eval").body
    for facts in many_facts:
        request, offer = _split(facts)
        assert expression(request, offer) is reference(tree, request, offer), facts


@settings(max_examples=300, database=None, deadline=None)
@given(source=EXPRESSIONS, many_facts=st.lists(FACTS, min_size=10, max_size=10))
def test_not_is_negation(source: str, many_facts: list[dict[str, Value]]) -> None:
    positive = compile_expression(source, PROPERTY_FIELDS)
    negative = compile_expression(f"not ({source})", PROPERTY_FIELDS)
    for facts in many_facts:
        request, offer = _split(facts)
        assert negative(request, offer) is (not positive(request, offer))


@settings(max_examples=200, database=None, deadline=None)
@given(source=EXPRESSIONS, facts=FACTS, other=FACTS)
def test_fields_and_offer_independence(
    source: str, facts: dict[str, Value], other: dict[str, Value]
) -> None:
    expression = compile_expression(source, PROPERTY_FIELDS)
    tree = ast.parse(source, mode="eval")
    attributes = {ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    named = attributes & set(PROPERTY_FIELDS)
    assert expression.fields == named
    assert expression.uses_offer == any(path.startswith("offer.") for path in named)
    request, offer = _split(facts)
    _, other_offer = _split(other)
    if not expression.uses_offer:
        assert expression(request, offer) is expression(request, other_offer)
