"""`nextbest evaluate`: the off-policy estimate of a candidate bundle on logged traffic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
from redis.exceptions import RedisError

from nextbest.bundle import load_bundle
from nextbest.decide import Decider
from nextbest.errors import FieldError
from nextbest.evaluation.bootstrap import DEFAULT_RESAMPLES, percentile_intervals
from nextbest.evaluation.estimators import (
    ESTIMATORS,
    Estimator,
    FloatArray,
    LoggedSlots,
    SlotRewards,
    effective_sample_size,
    logged_value,
)
from nextbest.evaluation.replay import Replay, bundle_policy, replay
from nextbest.history.export import ExportSummary, joined_decisions
from nextbest.history.reader import HistoryReader, check_history_source

__all__ = ["Estimate", "Evaluation", "evaluate_bundle", "evaluate_replay"]


@dataclass(frozen=True)
class Estimate:
    measure: str
    estimator: str
    value: float
    low: float
    high: float


@dataclass
class Evaluation:
    bundle: str
    replay: Replay
    estimates: list[Estimate]
    ess: float
    ess_by_slot: list[float]
    resamples: int
    seed: int
    join: ExportSummary = field(default_factory=ExportSummary)

    def estimate(self, measure: str, estimator: str) -> Estimate:
        return next(e for e in self.estimates if e.measure == measure and e.estimator == estimator)

    def warnings(self) -> list[str]:
        counts = self.replay.counts
        found: list[str] = []
        if counts.refused_propensity:
            found.append(
                f"refused {counts.refused_propensity} decisions with a shown offer whose "
                "logged propensity is not in (0, 1]"
            )
        if counts.refused_request:
            found.append(
                f"refused {counts.refused_request} decisions the candidate bundle cannot "
                f"decide: {'; '.join(sorted(counts.problems)[:3])}"
            )
        if counts.slots and counts.deterministic_slots == counts.slots:
            found.append(
                "every logged propensity is 1 (a deterministic logging policy): only the "
                f"slots where the candidate agrees with the logger ({counts.agreeing_slots} "
                f"of {counts.slots}) carry weight; nothing else can be evaluated"
            )
        if counts.no_overlap_slots:
            found.append(
                f"no overlap: in {counts.no_overlap_slots} of {counts.slots} slots the "
                "candidate chooses an offer the logger could not have shown there (the "
                "logged offer had propensity 1); IPS, SNIPS and DR count them as earning 0, "
                "DR's reward model only partly fills them in"
            )
        if counts.unexplored:
            pairs = ", ".join(f"{offer}@{rank}" for rank, offer in sorted(counts.unexplored)[:8])
            more = len(counts.unexplored) - 8
            found.append(
                "no overlap: the candidate chooses offers the logs never showed at that "
                f"rank: {pairs}{f' and {more} more' if more > 0 else ''}"
            )
        return found

    def lines(self) -> list[str]:
        counts = self.replay.counts
        lines = [
            f"candidate {self.bundle}: {counts.evaluated:,} of {counts.decisions:,} logged "
            f"decisions evaluated, {counts.slots:,} filled slots",
            "no contact pressure replayed (the contact history is not logged); the "
            "candidate fills the slots each logged decision filled",
            f"95 % intervals: percentile bootstrap over decisions, {self.resamples:,} "
            f"resamples, seed {self.seed}",
            f"effective sample size {self.ess:,.0f} of {counts.slots:,} slots (by slot: "
            + ", ".join(f"{s:,.0f}" for s in self.ess_by_slot)
            + ")",
            "",
            f"{'measure':<12}{'estimator':<10}{'per decision':>14}   95 % interval",
        ]
        lines += [
            f"{e.measure:<12}{e.estimator:<10}{e.value:>14.4f}   [{e.low:.4f}, {e.high:.4f}]"
            for e in self.estimates
        ]
        lines += [f"warning: {w}" for w in self.warnings()]
        return lines


def _statistic(
    estimator: Estimator, slots: LoggedSlots, rewards: SlotRewards
) -> Callable[[FloatArray], FloatArray]:
    return lambda counts: estimator(counts, slots, rewards)


def evaluate_replay(
    bundle: str, replayed: Replay, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> Evaluation:
    slots = replayed.slots
    n = slots.present.shape[0]
    estimates = []
    # acceptance: accepted offers per decision; value: their summed value per decision
    measures: dict[str, SlotRewards] = {"acceptance": replayed.acceptance, "value": replayed.value}
    estimators: dict[str, Estimator] = {"logged": logged_value, **ESTIMATORS}
    named = [
        (measure, name, _statistic(estimator, slots, rewards))
        for measure, rewards in measures.items()
        for name, estimator in estimators.items()
    ]
    intervals = percentile_intervals(
        [statistic for _, _, statistic in named], n, resamples=resamples, seed=seed
    )
    for (measure, name, statistic), (low, high) in zip(named, intervals, strict=True):
        point = float(statistic(np.ones(n))) if n else float("nan")
        estimates.append(Estimate(measure, name, point, low, high))
    weights = slots.weights
    by_slot = [
        effective_sample_size(weights[:, k], slots.present[:, k])
        for k in range(slots.present.shape[1])
    ]
    return Evaluation(
        bundle,
        replayed,
        estimates,
        effective_sample_size(weights, slots.present),
        by_slot,
        resamples,
        seed,
    )


def evaluate_bundle(
    history: str,
    bundle_dir: Path,
    *,
    window: timedelta = timedelta(days=7),
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    arm: str | None = None,
) -> Evaluation:
    check_history_source(history)
    bundle = load_bundle(bundle_dir)
    decider = Decider(bundle)
    try:
        assignment = decider.arm(arm) if arm is not None else None
    except KeyError as exc:
        raise FieldError(str(bundle_dir / "experiments.yaml"), None, exc.args[0]) from None
    join = ExportSummary()
    try:
        replayed = replay(
            decider,
            joined_decisions(HistoryReader(history), window, join),
            bundle_policy(bundle),
            assignment,
        )
    except OSError as exc:
        raise FieldError(exc.filename or history, None, exc.strerror or str(exc)) from exc
    except RedisError as exc:
        raise FieldError(history, None, f"cannot read the history streams: {exc}") from exc
    if replayed.counts.decisions == 0:
        raise FieldError(
            history,
            None,
            f"no decisions in the history ({join.skipped_lines} lines were not records)",
        )
    label = f"{bundle.name} {bundle.version}" + (f", arm {arm}" if arm is not None else "")
    evaluation = evaluate_replay(label, replayed, resamples=resamples, seed=seed)
    evaluation.join = join
    if replayed.counts.evaluated == 0:
        raise FieldError(
            history, None, "no decision can be evaluated: " + "; ".join(evaluation.warnings())
        )
    return evaluation
