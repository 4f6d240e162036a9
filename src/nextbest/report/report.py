"""The report's figures: per experiment, per arm, each measure's mean with its interval and,
against the control arm, the uplift with its interval, p-value and the sample size
still needed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from redis.exceptions import RedisError

from nextbest.errors import FieldError
from nextbest.history.export import ExportSummary, joined_decisions
from nextbest.history.reader import HistoryReader, check_history_source
from nextbest.report.arms import MEASURES, Experiment, tally_experiments
from nextbest.report.stats import ALPHA, POWER, Summary, Uplift, summary, uplift

__all__ = ["ArmRow", "ExperimentReport", "Report", "build_report", "report_experiments"]


@dataclass(frozen=True)
class ArmRow:
    arm: str
    control: bool
    decisions: int
    offers: int
    measures: dict[str, Summary]
    uplifts: dict[str, Uplift]
    """Empty for the control arm."""

    def still_needed(self, measure: str) -> float:
        """More decisions per arm to detect the observed uplift (0: enough already)."""
        needed = self.uplifts[measure].needed_per_arm
        return max(0.0, math.ceil(needed) - self.decisions) if math.isfinite(needed) else needed


@dataclass(frozen=True)
class ExperimentReport:
    experiment: str
    control: str
    arms: list[ArmRow]


@dataclass(frozen=True)
class Report:
    experiments: list[ExperimentReport]
    outside: int
    """Decisions that carried no experiment."""
    join: ExportSummary
    alpha: float = ALPHA
    power: float = POWER


def _experiment_report(experiment: Experiment, control_name: str | None) -> ExperimentReport:
    control = experiment.control(control_name)
    rows = []
    for name in sorted(experiment.arms, key=lambda a: (a != control.arm, a)):
        tally = experiment.arms[name]
        is_control = tally is control
        rows.append(
            ArmRow(
                arm=name,
                control=is_control,
                decisions=tally.acceptance.n,
                offers=tally.offers,
                measures={m: summary(tally.measure(m)) for m in MEASURES},
                uplifts={}
                if is_control
                else {m: uplift(tally.measure(m), control.measure(m)) for m in MEASURES},
            )
        )
    return ExperimentReport(experiment.id, control.arm, rows)


def report_experiments(
    experiments: dict[str, Experiment], control: str | None, outside: int, join: ExportSummary
) -> Report:
    return Report(
        [_experiment_report(experiments[e], control) for e in sorted(experiments)],
        outside,
        join,
    )


def build_report(
    history: str,
    *,
    experiment: str | None = None,
    control: str | None = None,
    window: timedelta = timedelta(days=7),
) -> Report:
    check_history_source(history)
    join = ExportSummary()
    try:
        experiments, outside = tally_experiments(
            joined_decisions(HistoryReader(history), window, join), experiment
        )
    except OSError as exc:
        raise FieldError(exc.filename or history, None, exc.strerror or str(exc)) from exc
    except RedisError as exc:
        raise FieldError(history, None, f"cannot read the history streams: {exc}") from exc
    if not experiments:
        wanted = f"experiment {experiment!r}" if experiment else "an experiment"
        raise FieldError(
            history, None, f"no decision of {join.decisions} carries {wanted} and an arm"
        )
    return report_experiments(experiments, control, outside, join)
