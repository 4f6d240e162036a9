"""One bundle's decision stages, composed: facts -> eligibility -> scoring -> arbitration,
then (after contact pressure, which the application runs) the answer."""

from __future__ import annotations

import dataclasses
import time
import uuid

from nextbest.bundle import Bundle
from nextbest.decide.arbitration import Arbiter
from nextbest.decide.eligibility import Eligibility
from nextbest.decide.explanation import ResponseBuilder
from nextbest.decide.exploring import Explorer
from nextbest.decide.facts import RequestReader
from nextbest.decide.scores import Scorer
from nextbest.decide.types import DecisionRequest
from nextbest.decide.values import (
    Decision,
    Facts,
    FloatArray,
    Ranking,
    Selection,
    StageTimings,
    Verdict,
)

__all__ = ["Decider"]


class Decider:
    """Decides for one bundle; safe to share across requests. Nothing of it changes after
    construction but the scorer's queue of decisions waiting to be scored."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._reader = RequestReader(bundle)
        self._eligibility = Eligibility(bundle)
        self.scorer = Scorer(bundle)
        self._arbiter = Arbiter(bundle)
        self._builder = ResponseBuilder(bundle)
        self.explorer = Explorer(bundle)

    def rank(self, request: DecisionRequest, decision_id: str | None = None) -> Ranking:
        """Every stage before contact pressure."""
        started = time.perf_counter_ns()
        facts, verdicts = self._screen(request)
        after_rules = time.perf_counter_ns()
        propensity = self.scorer.score(facts)
        return self._arbitrate(
            request, decision_id, facts, verdicts, propensity, started, after_rules
        )

    async def rank_together(
        self, request: DecisionRequest, decision_id: str | None = None
    ) -> Ranking:
        """As `rank`, scored in one run with the decisions that reach scoring in the same
        turn of the event loop."""
        started = time.perf_counter_ns()
        facts, verdicts = self._screen(request)
        after_rules = time.perf_counter_ns()
        propensity = await self.scorer.score_together(facts)
        return self._arbitrate(
            request, decision_id, facts, verdicts, propensity, started, after_rules
        )

    def _screen(self, request: DecisionRequest) -> tuple[Facts, tuple[Verdict, ...]]:
        facts = self._reader.facts(request)
        return facts, self._eligibility.verdicts(facts, request.context.channel)

    def _arbitrate(
        self,
        request: DecisionRequest,
        decision_id: str | None,
        facts: Facts,
        verdicts: tuple[Verdict, ...],
        propensity: FloatArray,
        started: int,
        after_rules: int,
    ) -> Ranking:
        after_scoring = time.perf_counter_ns()
        arbitration = self._arbiter.arbitrate(facts, verdicts, propensity)
        return Ranking(
            request=request,
            decision_id=decision_id or uuid.uuid4().hex,
            facts=facts,
            order=arbitration.order,
            verdicts=verdicts,
            propensity=propensity,
            weight=arbitration.weight,
            value=arbitration.value,
            boost=arbitration.boost,
            priority=arbitration.priority,
            timings=StageTimings(
                rules_ns=after_rules - started,
                scoring_ns=after_scoring - after_rules,
                arbitration_ns=time.perf_counter_ns() - after_scoring,
            ),
        )

    def finish(self, ranking: Ranking, selection: Selection, pressure_ns: int = 0) -> Decision:
        """The answer for the offers contact pressure let through."""
        started = time.perf_counter_ns()
        response = self._builder.response(ranking, selection)
        timings = dataclasses.replace(
            ranking.timings,
            arbitration_ns=ranking.timings.arbitration_ns + time.perf_counter_ns() - started,
            pressure_ns=pressure_ns,
        )
        return Decision(response, ranking, selection, timings)

    def decide(self, request: DecisionRequest) -> Decision:
        """A decision with no contact pressure: the top `limit` of the ranking."""
        ranking = self.rank(request)
        return self.finish(ranking, Selection(ranking.order[: request.limit]))
