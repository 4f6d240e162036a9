"""Eligibility: which offers may be ranked for this request, by channel and by rule."""

from __future__ import annotations

from nextbest.bundle import Bundle, Rule, offer_facts
from nextbest.decide.values import ELIGIBLE, NOT_ON_CHANNEL, DropReason, Facts, Verdict
from nextbest.fields import Value

__all__ = ["Eligibility"]

_NO_OFFER: dict[str, Value] = {}


class Eligibility:
    """Each offer's verdict: dropped (off the channel, or by a `drop` / `require` rule),
    pinned, boosted. Rules that read no offer field are evaluated once per request."""

    def __init__(self, bundle: Bundle) -> None:
        offers = bundle.offers
        self._offer_facts = [offer_facts(o) for o in offers]
        self._on_channel = {
            channel: tuple(channel in o.channels for o in offers)
            for channel in bundle.vocabulary.channels
        }
        self._rules_for: tuple[tuple[Rule, ...], ...] = tuple(
            tuple(r for r in bundle.rules if o.index in r.offers) for o in offers
        )
        self._request_rules = tuple(r for r in bundle.rules if not r.expression.uses_offer)
        self._drop_reasons = {r.id: DropReason("rule", r.id) for r in bundle.rules}

    def verdicts(self, facts: Facts, channel: str) -> tuple[Verdict, ...]:
        once = {r.id: r.expression.evaluate(facts, _NO_OFFER) for r in self._request_rules}
        verdicts: list[Verdict] = []
        for index, (on_channel, rules) in enumerate(
            zip(self._on_channel[channel], self._rules_for, strict=True)
        ):
            if not on_channel:
                verdicts.append(NOT_ON_CHANNEL)
            elif not rules:
                verdicts.append(ELIGIBLE)
            else:
                verdicts.append(self._judge(facts, once, rules, self._offer_facts[index]))
        return tuple(verdicts)

    def _judge(
        self,
        facts: Facts,
        once: dict[str, bool],
        rules: tuple[Rule, ...],
        offer: dict[str, Value],
    ) -> Verdict:
        pinned, boost, fired = False, 1.0, []
        for rule in rules:
            holds = once.get(rule.id)
            if holds is None:
                holds = rule.expression.evaluate(facts, offer)
            if (rule.action == "drop" and holds) or (rule.action == "require" and not holds):
                fired.append(rule.id)
                return Verdict(self._drop_reasons[rule.id], pinned, boost, tuple(fired))
            if holds and rule.action == "pin":
                pinned = True
                fired.append(rule.id)
            elif holds and rule.action == "boost":
                boost *= rule.factor
                fired.append(rule.id)
        return Verdict(None, pinned, boost, tuple(fired)) if fired else ELIGIBLE
