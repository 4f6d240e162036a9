"""An experiment's arms, read from the joined history: per arm, per decision, the accepted
offers (acceptance) and the value of the accepted offers (value, as logged).

Which arm is control: the one named with `--control`; else an arm called `control`; else
the only arm whose decisions never showed an offer (a `no_offer` arm).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from nextbest.errors import FieldError
from nextbest.history.export import JoinedDecision
from nextbest.report.stats import Moments

__all__ = ["ArmTally", "Experiment", "tally_experiments"]

MEASURES = ("acceptance", "value")


@dataclass
class ArmTally:
    arm: str
    acceptance: Moments = field(default_factory=Moments)
    value: Moments = field(default_factory=Moments)
    offers: int = 0

    def measure(self, name: str) -> Moments:
        return self.acceptance if name == "acceptance" else self.value


@dataclass
class Experiment:
    id: str
    arms: dict[str, ArmTally] = field(default_factory=dict)

    def control(self, named: str | None) -> ArmTally:
        if named is not None:
            if named not in self.arms:
                raise FieldError(
                    None,
                    "--control",
                    f"experiment {self.id!r} has no arm {named!r}; "
                    f"its arms: {', '.join(sorted(self.arms))}",
                )
            return self.arms[named]
        if "control" in self.arms:
            return self.arms["control"]
        silent = [a for a in self.arms.values() if a.offers == 0]
        if len(silent) == 1:
            return silent[0]
        raise FieldError(
            None,
            "--control",
            f"experiment {self.id!r}: name the control arm (arms: {', '.join(sorted(self.arms))})",
        )


def tally_experiments(
    decisions: Iterable[JoinedDecision], only: str | None = None
) -> tuple[dict[str, Experiment], int]:
    """The experiments (or only `only`) by id, and how many decisions had no experiment."""
    experiments: dict[str, Experiment] = {}
    outside = 0
    for record, outcomes in decisions:
        if record.experiment is None or record.arm is None:
            outside += 1
            continue
        if only is not None and record.experiment != only:
            continue
        experiment = experiments.setdefault(record.experiment, Experiment(record.experiment))
        tally = experiment.arms.setdefault(record.arm, ArmTally(record.arm))
        accepted = [o for o in record.offers if outcomes.get(o.offer_id) == 1]
        tally.acceptance.add(float(len(accepted)))
        tally.value.add(sum(o.value for o in accepted))
        tally.offers += len(record.offers)
    return experiments, outside
