"""`rules.yaml`: each rule's condition compiled once, and the offers it applies to."""

from __future__ import annotations

from collections.abc import Mapping

from nextbest.bundle._schema import RulesFile, Selector
from nextbest.bundle.bundle import Offer, Rule
from nextbest.bundle.files import RULES_FILE
from nextbest.errors import BundleError
from nextbest.fields import FieldKind
from nextbest.rules import ExpressionError, compile_expression
from nextbest.validation import refuse_duplicates

__all__ = ["compile_rules"]


def _select(selector: Selector | None, offers: tuple[Offer, ...], where: str) -> frozenset[int]:
    if selector is None:
        return frozenset(o.index for o in offers)
    by_id = {o.id: o.index for o in offers}
    unknown = sorted(set(selector.offers) - set(by_id))
    if unknown:
        raise BundleError(RULES_FILE, f"{where}.applies_to.offers", f"unknown offers {unknown}")
    all_tags = {t for o in offers for t in o.tags}
    unknown = sorted(set(selector.tags) - all_tags)
    if unknown:
        raise BundleError(
            RULES_FILE, f"{where}.applies_to.tags", f"no offer has the tags {unknown}"
        )
    chosen = {by_id[i] for i in selector.offers}
    chosen |= {o.index for o in offers if o.category in selector.categories}
    chosen |= {o.index for o in offers if set(o.tags) & set(selector.tags)}
    return frozenset(chosen)


def compile_rules(
    spec: RulesFile, offers: tuple[Offer, ...], fields: Mapping[str, FieldKind]
) -> tuple[Rule, ...]:
    refuse_duplicates((r.id for r in spec.rules), RULES_FILE, "rules", "rule")
    rules = []
    for position, r in enumerate(spec.rules):
        where = f"rules[{position}]"
        if (r.then == "boost") != (r.factor is not None):
            raise BundleError(
                RULES_FILE, f"{where}.factor", f"rule {r.id!r}: `factor` goes with `then: boost`"
            )
        try:
            expression = compile_expression(r.when, fields)
        except ExpressionError as exc:
            raise BundleError(RULES_FILE, f"{where}.when", f"rule {r.id!r}: {exc}") from exc
        rules.append(
            Rule(
                id=r.id,
                action=r.then,
                expression=expression,
                offers=_select(r.applies_to, offers, where),
                factor=r.factor or 1.0,
                description=r.description,
                condition=r.when,
            )
        )
    return tuple(rules)
