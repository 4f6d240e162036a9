"""One bundle's decision stages, composed: facts -> experiment arm -> eligibility ->
scoring -> arbitration, then (after contact pressure, which the application runs) the
answer."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import msgspec

from nextbest.bundle import Bundle
from nextbest.decide.arbitration import Arbiter
from nextbest.decide.eligibility import Eligibility, Screening
from nextbest.decide.explanation import ResponseBuilder
from nextbest.decide.exploring import ExplorationPlan, Explorer
from nextbest.decide.facts import RequestReader
from nextbest.decide.scores import Scorer
from nextbest.decide.types import DecisionRequest
from nextbest.decide.values import (
    Decision,
    DropReason,
    Facts,
    FloatArray,
    IndexArray,
    Ranking,
    Selection,
    StageTimings,
    Verdict,
)
from nextbest.experiments import Arm, Assignment
from nextbest.exploration.propensity import EpsilonGreedy

UNIFORM = EpsilonGreedy(1.0)
"""An experiment arm's `random` policy: every slot drawn uniformly from the offers the
caps allow, through exploration's sampling and its logged propensities."""

__all__ = ["UNIFORM", "Decider"]


class _Screened(msgspec.Struct, frozen=True):
    """A request past its facts, its experiment arm and eligibility."""

    facts: Facts
    assignment: Assignment | None
    stages: _Stages
    screening: Screening


@dataclass(frozen=True, slots=True)
class _Stages:
    """The eligibility, scorer and arbiter a decision uses: the bundle's, or an
    experiment arm's (a `no_offer` control's eligibility withholds offers)."""

    eligibility: Eligibility
    scorer: Scorer
    arbiter: Arbiter


def _wanted(request: DecisionRequest, screened: _Screened) -> IndexArray | None:
    """The offers scored: the eligible ones, or all of them for an explanation."""
    return None if request.explain else screened.screening.eligible


def _arm_stages(bundle: Bundle, arm: Arm, champion: _Stages) -> _Stages:
    """An arm's stages, sharing the bundle's scorer (its batcher, its ONNX sessions) unless
    the arm moves offers to other models, its arbiter unless the arm changes levers,
    context weights or the ranking, and its eligibility unless the arm withholds offers."""
    if arm.is_champion:
        return champion
    scorer = Scorer(bundle, arm.models) if arm.models else champion.scorer
    arbiter = Arbiter(bundle, arm) if arm.changes_arbitration else champion.arbiter
    eligibility = champion.eligibility
    if arm.policy == "no_offer":
        held = Verdict(dropped_by=DropReason("arm", arm.id))
        withheld = tuple(
            None if (o.is_service and arm.keep_service) else held for o in bundle.offers
        )
        eligibility = Eligibility(bundle, withheld)
    return _Stages(eligibility, scorer, arbiter)


class Decider:
    """Decides for one bundle; safe to share across requests. Nothing of it changes after
    construction but the scorer's queue of decisions waiting to be scored."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._reader = RequestReader(bundle)
        self.scorer = Scorer(bundle)
        self._champion = _Stages(Eligibility(bundle), self.scorer, Arbiter(bundle))
        self._experiments = bundle.experiments
        self._arms = {
            (experiment.id, arm.id): _arm_stages(bundle, arm, self._champion)
            for experiment in bundle.experiments.all
            for arm in experiment.arms
        }
        self._builder = ResponseBuilder(bundle)
        self.explorer = Explorer(bundle)

    def rank(
        self,
        request: DecisionRequest,
        decision_id: str | None = None,
        *,
        arm: Assignment | None = None,
    ) -> Ranking:
        """Every stage before contact pressure; in `arm` rather than the customer's own
        (offline evaluation of one arm)."""
        started = time.perf_counter_ns()
        screened = self._screen(request, arm)
        after_rules = time.perf_counter_ns()
        propensity = screened.stages.scorer.score(screened.facts, _wanted(request, screened))
        return self._arbitrate(request, decision_id, screened, propensity, started, after_rules)

    async def rank_together(
        self, request: DecisionRequest, decision_id: str | None = None
    ) -> Ranking:
        """As `rank`, scored in one run with the decisions that reach scoring in the same
        turn of the event loop."""
        started = time.perf_counter_ns()
        screened = self._screen(request)
        after_rules = time.perf_counter_ns()
        propensity = await screened.stages.scorer.score_together(
            screened.facts, _wanted(request, screened)
        )
        return self._arbitrate(request, decision_id, screened, propensity, started, after_rules)

    def arm(self, arm_id: str) -> Assignment:
        """The assignment to the arm `arm_id` (`experiment:arm`, or an arm id that only one
        experiment has). Raises KeyError naming the arms there are."""
        found = [
            Assignment(experiment.id, arm)
            for experiment in self._experiments.all
            for arm in experiment.arms
            if arm_id in (arm.id, f"{experiment.id}:{arm.id}")
        ]
        if len(found) != 1:
            known = [f"{e.id}:{a.id}" for e in self._experiments.all for a in e.arms]
            problem = "is in several experiments" if found else "is not an arm of the bundle"
            raise KeyError(f"{arm_id!r} {problem} (arms: {', '.join(known) or 'none'})")
        return found[0]

    def _screen(self, request: DecisionRequest, arm: Assignment | None = None) -> _Screened:
        facts = self._reader.facts(request)
        context = request.context
        assignment = (
            arm
            if arm is not None
            else self._experiments.assign(request.customer.id, context.channel, context.placement)
            if self._experiments
            else None
        )
        stages = (
            self._champion
            if assignment is None
            else self._arms[(assignment.experiment, assignment.arm.id)]
        )
        screening = stages.eligibility.screen(facts, context.channel)
        return _Screened(facts, assignment, stages, screening)

    def _arbitrate(
        self,
        request: DecisionRequest,
        decision_id: str | None,
        screened: _Screened,
        propensity: FloatArray,
        started: int,
        after_rules: int,
    ) -> Ranking:
        after_scoring = time.perf_counter_ns()
        screening = screened.screening
        arbitration = screened.stages.arbiter.arbitrate(screened.facts, screening, propensity)
        return Ranking(
            request=request,
            decision_id=decision_id or os.urandom(16).hex(),  # as the service's
            facts=screened.facts,
            order=arbitration.order,
            verdicts=screening.verdicts,
            propensity=propensity,
            weight=arbitration.weight,
            value=arbitration.value,
            lever=arbitration.lever,
            boost=arbitration.boost,
            priority=arbitration.priority,
            timings=StageTimings(
                rules_ns=after_rules - started,
                scoring_ns=after_scoring - after_rules,
                arbitration_ns=time.perf_counter_ns() - after_scoring,
            ),
            assignment=screened.assignment,
        )

    def explore(self, ranking: Ranking) -> ExplorationPlan | None:
        """How the ranking is explored in the gate: uniformly in an arm of policy `random`,
        else as `exploration.yaml` says for the channel and placement (None: not at all)."""
        assignment = ranking.assignment
        if assignment is not None and assignment.arm.policy == "random":
            return self.explorer.plan(ranking, UNIFORM)
        return self.explorer.plan(ranking)

    def finish(self, ranking: Ranking, selection: Selection, pressure_ns: int = 0) -> Decision:
        """The answer for the offers contact pressure let through."""
        started = time.perf_counter_ns()
        response = self._builder.response(ranking, selection)
        ranked = ranking.timings
        timings = StageTimings(
            ranked.rules_ns,
            ranked.scoring_ns,
            ranked.arbitration_ns + time.perf_counter_ns() - started,
            pressure_ns,
        )
        return Decision(response, ranking, selection, timings)

    def decide(self, request: DecisionRequest) -> Decision:
        """A decision with no contact pressure: the top `limit` of the ranking."""
        ranking = self.rank(request)
        return self.finish(ranking, Selection(ranking.order[: request.limit]))
