"""Eligibility: which offers may be ranked for this request, by channel and by rule.

Compiled at load. A rule that reads no offer field is evaluated once per request; one
that reads only offer fields once per offer, here; one that reads both once per distinct
value of the offer fields it reads (`offer.product in customer.attributes.owned_products`:
once per product). These outcomes decide every verdict: each offer's verdict is looked
up by the outcomes its rules read, and the screening made from all the verdicts (with
the boosts and the eligible offers laid out for arbitration) by the verdicts; both
lookups, and the request's whole set of outcomes, are remembered. A request like one
seen before builds no per-offer object.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Mapping, Sequence
from itertools import compress, repeat
from typing import TypeVar

import msgspec
import numpy as np

from nextbest.bundle import Bundle, offer_facts
from nextbest.decide.values import (
    ELIGIBLE,
    NOT_ON_CHANNEL,
    DropReason,
    Facts,
    FloatArray,
    IndexArray,
    Verdict,
)
from nextbest.fields import Value
from nextbest.rules import Evaluator

__all__ = ["Eligibility", "Screening"]

_NO_OFFER: dict[str, Value] = {}

K = TypeVar("K")

_REMEMBERED = 4096
"""Screenings kept, and sets of outcomes (then each forgotten all at once): a bound
however many combinations the traffic reaches."""

_LARGEST_REMEMBERED = 256
"""Request values a rule reads are kept as a key only up to this many characters."""

Outcomes = tuple[bool, ...]
"""One request's outcomes, one per probe (a rule evaluated for the request, with an
offer's facts when it reads the offer)."""

_Read = Callable[[Outcomes], object]

ALWAYS = 0
"""The position of the outcome that is always true (an offer whose verdict is the same
for every request reads it)."""


class Screening(msgspec.Struct, frozen=True):
    """Eligibility's answer for one request, with what arbitration reads from it laid out.
    Shared by every request with the same verdicts: never changed."""

    verdicts: tuple[Verdict, ...]
    """Catalogue order."""
    boost: FloatArray
    """Each offer's boost (read-only)."""
    boosted: bool
    """Whether any boost differs from 1 (x * 1 is x: the multiplication can be skipped)."""
    pinned: tuple[int, ...]
    """The eligible pinned offers' indices, in tie-break (offer id) order."""
    unpinned: tuple[int, ...]
    """The other eligible offers' indices, in tie-break order."""
    eligible: IndexArray
    """Every eligible offer's index, in catalogue order (read-only): the offers scored."""


def _projection(facts: dict[str, Value], paths: Sequence[str]) -> tuple[tuple[type, object], ...]:
    """What an evaluator reading `paths` sees of an offer, hashable and typed (True and 1
    must not fall together)."""
    values = (facts.get(path) for path in paths)
    return tuple((type(v), tuple(v) if isinstance(v, list) else v) for v in values)


class Eligibility:
    """Each offer's verdict: dropped (off the channel, by a `drop` / `require` rule, or
    withheld by an experiment arm), pinned, boosted. `withheld` (catalogue order, None to
    keep the offer's own verdict) replaces verdicts for a `no_offer` arm."""

    def __init__(self, bundle: Bundle, withheld: Sequence[Verdict | None] = ()) -> None:
        offers = bundle.offers
        facts = [offer_facts(o) for o in offers]
        self._rules = bundle.rules
        self._drop_reasons = {r.id: DropReason("rule", r.id) for r in bundle.rules}
        self._by_id = tuple(o.index for o in sorted(offers, key=lambda o: o.id))
        self._in_id_order = _picker(self._by_id)
        self._rules_for = tuple(
            tuple(n for n, r in enumerate(bundle.rules) if o.index in r.offers) for o in offers
        )
        self._probes = _Probes(bundle, facts)
        self._outcome_of = self._probes.outcome_of

        self._learning = threading.Lock()
        self._verdicts: list[Verdict] = []
        self._code_of: dict[Verdict, int] = {}
        self._boost: list[float] = []
        self._boosted: list[bool] = []
        self._pinned: list[bool] = []
        """By verdict code: eligible and pinned."""
        self._unpinned: list[bool] = []
        """By verdict code: eligible and not pinned."""
        self._ones = np.ones(len(offers))
        self._ones.flags.writeable = False
        self._lookups: dict[str, tuple[tuple[_Read, ...], tuple[dict[object, int], ...]]] = {}
        """Per channel, for each offer: what it reads of a request's outcomes, and its
        verdict code by that (learnt as they are met). An offer whose verdict does not
        depend on them reads the first outcome, always true."""
        held = list(withheld) or [None] * len(offers)
        for channel in bundle.vocabulary.channels:
            reads: list[_Read] = []
            codes: list[dict[object, int]] = []
            for o, verdict in zip(offers, held, strict=True):
                probes = self._reads(o.index)
                if channel not in o.channels:
                    verdict = verdict or NOT_ON_CHANNEL
                elif verdict is None and probes:
                    reads.append(operator.itemgetter(*probes))
                    codes.append({})
                    continue
                reads.append(operator.itemgetter(ALWAYS))
                codes.append({True: self._code(verdict or self._verdict(o.index, {}))})
            self._lookups[channel] = (tuple(reads), tuple(codes))
        self._screenings: dict[tuple[int, ...], Screening] = {}
        self._seen: dict[tuple[str, Outcomes], Screening] = {}

    def screen(self, facts: Facts, channel: str) -> Screening:
        outcomes = self._probes.outcomes(facts)
        seen = (channel, outcomes)
        screening = self._seen.get(seen)
        if screening is None:
            screening = self._screening(channel, outcomes)
            _remember(self._seen, seen, screening)
        return screening

    def _screening(self, channel: str, outcomes: Outcomes) -> Screening:
        reads, codes_by = self._lookups[channel]
        met = list(map(operator.call, reads, repeat(outcomes)))
        try:
            codes = tuple(map(dict.__getitem__, codes_by, met))
        except KeyError:
            codes = self._learn(outcomes, codes_by, met)
        screening = self._screenings.get(codes)
        if screening is None:
            screening = self._laid_out(codes)
            _remember(self._screenings, codes, screening)
        return screening

    def _learn(
        self, outcomes: Outcomes, codes_by: Sequence[dict[object, int]], met: Sequence[object]
    ) -> tuple[int, ...]:
        """Each offer's verdict code, the ones not met before judged and kept."""
        for index, (known, key) in enumerate(zip(codes_by, met, strict=True)):
            if key not in known:
                probes = self._reads(index)
                met_by_probe = {p: outcomes[p] for p in probes}
                known[key] = self._code(self._verdict(index, met_by_probe))
        return tuple(map(dict.__getitem__, codes_by, met))

    def _laid_out(self, codes: tuple[int, ...]) -> Screening:
        boost = self._ones
        if any(map(self._boosted.__getitem__, codes)):
            boost = np.array(list(map(self._boost.__getitem__, codes)), dtype=np.float64)
            boost.flags.writeable = False
        by_id = self._in_id_order(codes)
        pinned = tuple(compress(self._by_id, map(self._pinned.__getitem__, by_id)))
        unpinned = tuple(compress(self._by_id, map(self._unpinned.__getitem__, by_id)))
        eligible = np.array(sorted(pinned + unpinned), dtype=np.intp)
        eligible.flags.writeable = False
        return Screening(
            verdicts=tuple(map(self._verdicts.__getitem__, codes)),
            boost=boost,
            boosted=boost is not self._ones,
            pinned=pinned,
            unpinned=unpinned,
            eligible=eligible,
        )

    def _reads(self, index: int) -> list[int]:
        """The probes whose outcomes the verdict of offer `index` depends on."""
        outcomes = (self._outcome_of[n][index] for n in self._rules_for[index])
        return sorted({o for o in outcomes if not isinstance(o, bool)})

    def _code(self, verdict: Verdict) -> int:
        """The verdict's code, its entries in the lists by code written before the code is
        given out (a decider may be shared by threads)."""
        code = self._code_of.get(verdict)
        if code is None:
            with self._learning:
                code = self._code_of.get(verdict)
                if code is None:
                    code = len(self._verdicts)
                    self._verdicts.append(verdict)
                    self._boost.append(verdict.boost)
                    self._boosted.append(verdict.boost != 1.0)
                    eligible = verdict.dropped_by is None
                    self._pinned.append(eligible and verdict.pinned)
                    self._unpinned.append(eligible and not verdict.pinned)
                    self._code_of[verdict] = code
        return code

    def _verdict(self, index: int, met: dict[int, bool]) -> Verdict:
        """The verdict of the rules on the offer `index`, given the outcomes `met` of the
        probes they read."""
        pinned, boost, fired = False, 1.0, []
        for n in self._rules_for[index]:
            rule = self._rules[n]
            outcome = self._outcome_of[n][index]
            holds = outcome if isinstance(outcome, bool) else met[outcome]
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


def _small(projection: tuple[tuple[type, object], ...]) -> bool:
    """Whether request values are short enough to be kept as a key (a client's long list
    must not be held in memory)."""
    size = 0
    for _, value in projection:
        if isinstance(value, tuple):
            size += len(value) + sum(map(len, value))
        elif isinstance(value, str):
            size += len(value)
    return size <= _LARGEST_REMEMBERED


class _OfferGroups:
    """A rule that reads the request and the offer, for each distinct value of the offer
    fields it reads (one offer's facts each). Its outcomes for a request depend only on
    the request fields it reads: they are remembered by their values."""

    def __init__(self, evaluate: Evaluator, offers: Sequence[dict[str, Value]]) -> None:
        self._evaluate = evaluate
        self._offers = tuple(offers)
        self.count = len(self._offers)
        self._outcomes: dict[tuple[object, ...], Outcomes] = {}

    def outcomes(self, facts: Facts, reads: Sequence[str]) -> Outcomes:
        seen = _projection(facts, reads)
        found = self._outcomes.get(seen)
        if found is None:
            evaluate = self._evaluate
            found = tuple([evaluate(facts, offer) for offer in self._offers])
            if _small(seen):
                if len(self._outcomes) >= _REMEMBERED:
                    self._outcomes.clear()
                self._outcomes[seen] = found
        return found


class _Probes:
    """The evaluations a request needs, their outcomes in one tuple: the rules that read no
    offer field, then each rule that reads both the request and the offer, once per
    group of offers that agree on the offer fields it reads."""

    def __init__(self, bundle: Bundle, facts: Sequence[dict[str, Value]]) -> None:
        self.outcome_of: list[dict[int, int | bool]] = []
        """Per rule, per offer it applies to: the position of its outcome in a request's
        outcomes, or its outcome when it reads only the offer (the same for every
        request)."""
        once: list[Evaluator] = [_always]
        position_of: dict[str, int] = {}
        grouped: list[tuple[int, dict[int, int], _OfferGroups, list[str]]] = []
        for n, rule in enumerate(bundle.rules):
            evaluate = rule.expression.evaluate
            offer_paths = sorted(p for p in rule.expression.fields if p.startswith("offer."))
            outcome: dict[int, int | bool] = {}
            if not offer_paths:
                if rule.expression.source not in position_of:  # one evaluation per condition
                    position_of[rule.expression.source] = len(once)
                    once.append(evaluate)
                outcome = dict.fromkeys(rule.offers, position_of[rule.expression.source])
            elif len(offer_paths) == len(rule.expression.fields):
                outcome = {i: evaluate(_NO_OFFER, facts[i]) for i in rule.offers}
            else:
                group_of: dict[tuple[object, ...], int] = {}
                representatives: list[dict[str, Value]] = []
                members: dict[int, int] = {}
                for i in sorted(rule.offers):
                    seen = _projection(facts[i], offer_paths)
                    if seen not in group_of:
                        group_of[seen] = len(representatives)
                        representatives.append(facts[i])
                    members[i] = group_of[seen]
                reads = sorted(set(rule.expression.fields) - set(offer_paths))
                grouped.append((n, members, _OfferGroups(evaluate, representatives), reads))
            self.outcome_of.append(outcome)
        self.once = tuple(once)
        position = len(once)
        for n, members, groups, _ in grouped:
            self.outcome_of[n] = {i: position + g for i, g in members.items()}
            position += groups.count
        self.groups = tuple((groups, reads) for _, _, groups, reads in grouped)

    def outcomes(self, facts: Facts) -> Outcomes:
        outcomes = [evaluate(facts, _NO_OFFER) for evaluate in self.once]
        for groups, reads in self.groups:
            outcomes.extend(groups.outcomes(facts, reads))
        return tuple(outcomes)


def _always(_request: Mapping[str, Value], _offer: Mapping[str, Value]) -> bool:
    return True


def _picker(indices: Sequence[int]) -> Callable[[Sequence[int]], tuple[int, ...]]:
    """The items at `indices` of a sequence, as a tuple (itemgetter's, in C, for two or
    more)."""
    if len(indices) >= 2:
        return operator.itemgetter(*indices)
    return lambda items: tuple(items[i] for i in indices)


def _remember(memo: dict[K, Screening], key: K, screening: Screening) -> None:
    if len(memo) >= _REMEMBERED:
        memo.clear()
    memo[key] = screening
