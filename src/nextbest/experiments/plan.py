"""The experiments of one bundle, compiled: for a channel and placement, the experiment
that applies; for a customer, the arm; for an arm, what it changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from nextbest.experiments.assignment import Bucketing
from nextbest.experiments.spec import ArmPolicy

__all__ = ["NO_EXPERIMENTS", "Arm", "Assignment", "Experiment", "Experiments", "WeightTables"]

WeightTables = Mapping[str, Mapping[str, tuple[float, ...]]]
"""Weighted field path -> value -> one multiplier per offer (catalogue order)."""


@dataclass(frozen=True, slots=True)
class Arm:
    """One arm: its share of the experiment's customers and what it changes. Offers are
    named by their catalogue index."""

    id: str
    share: float
    policy: ArmPolicy = "priority"
    keep_service: bool = True
    models: Mapping[int, str] = field(default_factory=dict)
    """Offer index -> the id of the model that scores it in this arm."""
    levers: Mapping[int, float] = field(default_factory=dict)
    """Offer index -> its lever in this arm."""
    context_weights: WeightTables | None = None
    """The arm's context weights in place of the bundle's."""

    @property
    def changes_arbitration(self) -> bool:
        """Its levers, context weights or ranking differ from the bundle's."""
        return self.policy == "rules_only" or bool(self.levers) or self.context_weights is not None

    @property
    def is_champion(self) -> bool:
        """The bundle as it is."""
        return (
            self.policy == "priority"
            and not self.models
            and not self.levers
            and self.context_weights is None
        )


@dataclass(frozen=True, slots=True)
class Assignment:
    """The experiment a decision falls in and the customer's arm."""

    experiment: str
    arm: Arm


class Experiment:
    def __init__(
        self,
        experiment_id: str,
        salt: str,
        arms: Sequence[Arm],
        channels: frozenset[str] = frozenset(),
        placements: frozenset[str] = frozenset(),
    ) -> None:
        self.id = experiment_id
        self.salt = salt
        self.arms = tuple(arms)
        self.channels = channels
        """Empty: every channel."""
        self.placements = placements
        """Empty: any placement, or none."""
        self._bucketing = Bucketing(salt, [a.share for a in self.arms])
        self._assignments = tuple(Assignment(experiment_id, a) for a in self.arms)

    def assign(self, customer_id: str) -> Assignment:
        return self._assignments[self._bucketing.arm_index(customer_id)]

    def overlaps(self, other: Experiment) -> bool:
        """Some channel and placement fall in both scopes."""
        channels = not self.channels or not other.channels or bool(self.channels & other.channels)
        placements = (
            not self.placements or not other.placements or bool(self.placements & other.placements)
        )
        return channels and placements


class Experiments:
    """A bundle's experiments, looked up by channel and placement in one dictionary
    access each. Scopes never overlap (checked when the bundle loads)."""

    def __init__(self, experiments: Sequence[Experiment], channels: Sequence[str]) -> None:
        self.all = tuple(experiments)
        self._by_placement: dict[str, dict[str, Experiment]] = {c: {} for c in channels}
        self._any_placement: dict[str, Experiment] = {}
        for experiment in self.all:
            for channel in experiment.channels or channels:
                if experiment.placements:
                    for placement in experiment.placements:
                        self._by_placement[channel][placement] = experiment
                else:
                    self._any_placement[channel] = experiment

    def find(self, channel: str, placement: str | None) -> Experiment | None:
        if placement is not None:
            found = self._by_placement.get(channel, {}).get(placement)
            if found is not None:
                return found
        return self._any_placement.get(channel)

    def assign(self, customer_id: str, channel: str, placement: str | None) -> Assignment | None:
        """The customer's arm in the experiment that covers this channel and placement;
        None when none does."""
        experiment = self.find(channel, placement)
        return None if experiment is None else experiment.assign(customer_id)

    def __bool__(self) -> bool:
        return bool(self.all)


NO_EXPERIMENTS = Experiments((), ())
