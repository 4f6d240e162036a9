"""The wire shape of `experiments.yaml`, decoded strictly (unknown fields are refused)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

__all__ = [
    "EXPERIMENTS_FILE",
    "ArmPolicy",
    "ArmSpec",
    "ExperimentSpec",
    "ExperimentsFile",
    "ScopeSpec",
    "WeightsSpec",
]

EXPERIMENTS_FILE = "experiments.yaml"

ArmPolicy = Literal["priority", "rules_only", "random", "no_offer"]
"""How an arm ranks: the bundle's priority formula (champion and challengers), the
priority without the propensity, uniformly at random, or not at all (a control)."""

Identifier = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Share = Annotated[float, msgspec.Meta(ge=0, le=1)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Placement = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
WeightsSpec = dict[Identifier, dict[Identifier, dict[Identifier, NonNegative]]]
"""As `context_weights.yaml`: weighted field -> value -> offer id or category -> factor."""


class _Spec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    pass


class ScopeSpec(_Spec, frozen=True):
    channels: list[Identifier] = []
    """Empty: every channel."""
    placements: list[Placement] = []
    """Empty: any placement, or none."""


class ArmSpec(_Spec, frozen=True):
    id: Identifier
    share: Share
    policy: ArmPolicy = "priority"
    keep_service: bool | None = None
    """`no_offer` only (default true): still return the service activities (else nothing at all)."""
    models: dict[Identifier, Identifier] = {}
    """Offer id or category -> the id of the model (in `models.yaml`) that scores it."""
    levers: dict[Identifier, NonNegative] = {}
    """Offer id or category -> lever, in place of the catalogue's."""
    context_weights: WeightsSpec | None = None
    """In place of `context_weights.yaml` (the whole table)."""


class ExperimentSpec(_Spec, frozen=True):
    id: Identifier
    salt: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    arms: Annotated[list[ArmSpec], msgspec.Meta(min_length=2)]
    scope: ScopeSpec = ScopeSpec()
    description: str = ""


class ExperimentsFile(_Spec, frozen=True):
    experiments: list[ExperimentSpec] = []
