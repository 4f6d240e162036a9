"""The loaded bundle: one immutable object holding everything a decision depends on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from nextbest.bundle._schema import Vocabulary
from nextbest.experiments import NO_EXPERIMENTS, Experiments
from nextbest.exploration.config import ExplorationSettings
from nextbest.fields import Category, FieldCatalogue, FieldKind
from nextbest.pressure.policy import ContactPolicies
from nextbest.rules import Expression
from nextbest.scoring import PropensityModel

__all__ = ["Bundle", "ContextWeights", "Offer", "Rule", "RuleAction"]

RuleAction = Literal["drop", "require", "pin", "boost"]


@dataclass(frozen=True, slots=True)
class Offer:
    index: int
    id: str
    name: str
    category: Category
    channels: frozenset[str]
    value: float
    lever: float
    product: str | None
    tags: tuple[str, ...]
    model: str | None
    fixed_propensity: float | None
    treatment: Mapping[str, str]

    @property
    def is_service(self) -> bool:
        return self.category == "service"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    action: RuleAction
    expression: Expression
    offers: frozenset[int]
    """Indices of the offers the rule applies to."""
    factor: float = 1.0
    description: str = ""
    condition: str = ""
    """The `when` text the expression was compiled from."""


@dataclass(frozen=True, slots=True)
class ContextWeights:
    """For each weighted field (by path) and each of its values, one multiplier per offer
    (by index)."""

    tables: Mapping[str, Mapping[str, tuple[float, ...]]]


@dataclass(frozen=True, slots=True)
class Bundle:
    path: Path
    name: str
    version: str
    description: str
    loaded_at: datetime
    checksums: Mapping[str, str]
    vocabulary: Vocabulary
    fields: FieldCatalogue
    offers: tuple[Offer, ...]
    rules: tuple[Rule, ...]
    context_weights: ContextWeights
    clv_share: Mapping[Category, float]
    models: tuple[PropensityModel, ...]
    policies: ContactPolicies
    exploration: ExplorationSettings = field(default_factory=ExplorationSettings)
    """Which channels and placements explore (`exploration.yaml`); none by default."""
    experiments: Experiments = NO_EXPERIMENTS

    @property
    def customer_attributes(self) -> Mapping[str, FieldKind]:
        return self.fields.attribute_kinds("customer")

    @property
    def context_attributes(self) -> Mapping[str, FieldKind]:
        return self.fields.attribute_kinds("context")
