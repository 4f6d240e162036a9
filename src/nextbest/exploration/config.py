"""`exploration.yaml`: which channels (or placements) explore, and how.

    exploration:
      - channel: web
        epsilon: 0.05              # each slot: uniform among the allowed offers left, 5 %
      - channel: app
        placement: home_banner     # this placement only; it wins over the channel's entry
        thompson:
          prior_strength: 200      # Beta around the model's propensity worth 200 responses

A channel or placement without an entry does not explore. The file is optional and
validated like every bundle file: a problem names the file and the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated

import msgspec

from nextbest.errors import BundleError
from nextbest.exploration.propensity import EpsilonGreedy, Thompson
from nextbest.validation import convert_strict
from nextbest.yaml_file import parse_yaml

__all__ = ["EXPLORATION_FILE", "ExplorationSettings", "Exploring", "read_exploration"]

EXPLORATION_FILE = "exploration.yaml"

Exploring = EpsilonGreedy | Thompson


class _Spec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    pass


class ThompsonSpec(_Spec, frozen=True):
    prior_strength: Annotated[float, msgspec.Meta(gt=0, le=1e9)]


class EntrySpec(_Spec, frozen=True):
    channel: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    placement: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    epsilon: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    thompson: ThompsonSpec | None = None


class ExplorationFile(_Spec, frozen=True):
    exploration: list[EntrySpec] = []


@dataclass(frozen=True, slots=True)
class ExplorationSettings:
    """Per (channel, placement), the exploring policy; (channel, None) for the channel."""

    by_scope: Mapping[tuple[str, str | None], Exploring] = field(default_factory=dict)

    def policy_for(self, channel: str, placement: str | None) -> Exploring | None:
        if not self.by_scope:
            return None
        if placement is not None:
            policy = self.by_scope.get((channel, placement))
            if policy is not None:
                return policy
        return self.by_scope.get((channel, None))


def read_exploration(data: bytes | None, channels: Sequence[str]) -> ExplorationSettings:
    """The settings in the bytes of `exploration.yaml` (None: the file is absent)."""
    raw = None if data is None else parse_yaml(data, EXPLORATION_FILE)
    spec = (
        ExplorationFile() if raw is None else convert_strict(raw, ExplorationFile, EXPLORATION_FILE)
    )
    by_scope: dict[tuple[str, str | None], Exploring] = {}
    for position, entry in enumerate(spec.exploration):
        where = f"exploration[{position}]"
        if entry.channel not in channels:
            raise BundleError(
                EXPLORATION_FILE, f"{where}.channel", f"unknown channel {entry.channel!r}"
            )
        if (entry.epsilon is None) == (entry.thompson is None):
            raise BundleError(
                EXPLORATION_FILE, where, "give exactly one of `epsilon` and `thompson`"
            )
        scope = (entry.channel, entry.placement)
        if scope in by_scope:
            raise BundleError(
                EXPLORATION_FILE,
                where,
                f"a second entry for channel {entry.channel!r}"
                + (f" and placement {entry.placement!r}" if entry.placement else ""),
            )
        by_scope[scope] = (
            Thompson(entry.thompson.prior_strength)
            if entry.thompson is not None
            else EpsilonGreedy(entry.epsilon or 0.0)
        )
    return ExplorationSettings(by_scope)
