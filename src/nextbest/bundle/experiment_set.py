"""`experiments.yaml`: each experiment's scope and arms checked against the catalogue, the
models and the vocabulary, and compiled into the lookups a decision uses."""

from __future__ import annotations

import math
from collections.abc import Mapping, Set
from typing import TypeVar

from nextbest.bundle._schema import Vocabulary
from nextbest.bundle.bundle import Offer
from nextbest.bundle.weights import compile_context_weights
from nextbest.errors import BundleError
from nextbest.experiments import EXPERIMENTS_FILE, Arm, Experiment, Experiments, ExperimentsFile
from nextbest.experiments.spec import ArmSpec, ExperimentSpec
from nextbest.fields import CATEGORIES
from nextbest.validation import refuse_duplicates

__all__ = ["SHARE_TOLERANCE", "compile_experiments"]

SHARE_TOLERANCE = 1e-6
"""How far an experiment's shares may sum from 1 (rounding in the file, 1/3 + 1/3 + 1/3)."""

T = TypeVar("T")


def compile_experiments(
    spec: ExperimentsFile,
    vocabulary: Vocabulary,
    offers: tuple[Offer, ...],
    model_ids: Set[str],
) -> Experiments:
    refuse_duplicates(
        (e.id for e in spec.experiments), EXPERIMENTS_FILE, "experiments", "experiment"
    )
    compiled: list[Experiment] = []
    for position, e in enumerate(spec.experiments):
        where = f"experiments[{position}]"
        experiment = _experiment(e, where, vocabulary, offers, model_ids)
        for earlier in compiled:
            if experiment.overlaps(earlier):
                raise BundleError(
                    EXPERIMENTS_FILE,
                    f"{where}.scope",
                    f"overlaps experiment {earlier.id!r}: at most one experiment may cover "
                    "a channel and placement",
                )
        compiled.append(experiment)
    return Experiments(compiled, vocabulary.channels)


def _experiment(
    e: ExperimentSpec,
    where: str,
    vocabulary: Vocabulary,
    offers: tuple[Offer, ...],
    model_ids: Set[str],
) -> Experiment:
    unknown = sorted(set(e.scope.channels) - set(vocabulary.channels))
    if unknown:
        raise BundleError(
            EXPERIMENTS_FILE,
            f"{where}.scope.channels",
            f"unknown channels {unknown}; vocabulary has {sorted(vocabulary.channels)}",
        )
    refuse_duplicates((a.id for a in e.arms), EXPERIMENTS_FILE, f"{where}.arms", "arm")
    total = math.fsum(a.share for a in e.arms)
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise BundleError(
            EXPERIMENTS_FILE,
            f"{where}.arms",
            f"the shares sum to {total:g}, not 1 (within {SHARE_TOLERANCE:g})",
        )
    arms = [
        _arm(a, f"{where}.arms[{i}]", vocabulary, offers, model_ids) for i, a in enumerate(e.arms)
    ]
    return Experiment(
        e.id, e.salt, arms, frozenset(e.scope.channels), frozenset(e.scope.placements)
    )


def _arm(
    a: ArmSpec,
    where: str,
    vocabulary: Vocabulary,
    offers: tuple[Offer, ...],
    model_ids: Set[str],
) -> Arm:
    if a.keep_service is not None and a.policy != "no_offer":
        raise BundleError(
            EXPERIMENTS_FILE, f"{where}.keep_service", "goes with `policy: no_offer` only"
        )
    for target, model in a.models.items():
        if model not in model_ids:
            raise BundleError(
                EXPERIMENTS_FILE,
                f"{where}.models.{target}",
                f"unknown model {model!r}; models.yaml has {sorted(model_ids)}",
            )
    weights = None
    if a.context_weights is not None:
        weights = compile_context_weights(
            a.context_weights,
            vocabulary,
            offers,
            file=EXPERIMENTS_FILE,
            where=f"{where}.context_weights",
        ).tables
    return Arm(
        id=a.id,
        share=a.share,
        policy=a.policy,
        keep_service=a.keep_service is not False,
        models=_by_offer(a.models, offers, f"{where}.models"),
        levers=_by_offer(a.levers, offers, f"{where}.levers"),
        context_weights=weights,
    )


def _by_offer(by_target: Mapping[str, T], offers: tuple[Offer, ...], where: str) -> dict[int, T]:
    """Offer index -> value, from values named by category or offer id (an offer's own
    entry wins over its category's)."""
    by_id = {o.id: o.index for o in offers}
    resolved: dict[int, T] = {}
    for target, value in by_target.items():
        if target in CATEGORIES:
            resolved.update(
                (o.index, value) for o in offers if o.category == target and o.id not in by_target
            )
        elif target in by_id:
            resolved[by_id[target]] = value
        else:
            raise BundleError(
                EXPERIMENTS_FILE, f"{where}.{target}", "neither a category nor an offer id"
            )
    return resolved
