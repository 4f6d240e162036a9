"""`context_weights.yaml`: per context value, one multiplier per offer."""

from __future__ import annotations

from nextbest.bundle._schema import ContextWeightsFile, Vocabulary
from nextbest.bundle.bundle import ContextWeights, Offer
from nextbest.bundle.files import WEIGHTS_FILE
from nextbest.errors import BundleError
from nextbest.fields import CATEGORIES

__all__ = ["WEIGHTED_FIELDS", "compile_context_weights"]

WEIGHTED_FIELDS = {
    "call_reason": ("context.call_reason", "call_reasons"),
    "lifecycle_stage": ("customer.lifecycle_stage", "lifecycle_stages"),
    "channel": ("context.channel", "channels"),
}
"""Weighted name in the file -> (field path, vocabulary list)."""


def compile_context_weights(
    spec: ContextWeightsFile,
    vocabulary: Vocabulary,
    offers: tuple[Offer, ...],
    *,
    file: str = WEIGHTS_FILE,
    where: str = "",
) -> ContextWeights:
    """The tables of `spec`; a BundleError names `file` and the field (below `where`, the
    place of the table in its file, when it is not the whole file)."""
    prefix = f"{where}." if where else ""
    by_id = {o.id: o.index for o in offers}
    tables: dict[str, dict[str, tuple[float, ...]]] = {}
    for name, by_value in spec.items():
        weighted = WEIGHTED_FIELDS.get(name)
        if weighted is None:
            raise BundleError(
                file,
                f"{prefix}{name}",
                f"not a weighted context field; use {sorted(WEIGHTED_FIELDS)}",
            )
        path, vocabulary_name = weighted
        allowed: list[str] = getattr(vocabulary, vocabulary_name)
        table: dict[str, tuple[float, ...]] = {}
        for value, targets in by_value.items():
            if value not in allowed:
                raise BundleError(
                    file, f"{prefix}{name}.{value}", f"not in vocabulary.{vocabulary_name}"
                )
            weights = [1.0] * len(offers)
            for target, weight in targets.items():
                if target in CATEGORIES:
                    hits = [o.index for o in offers if o.category == target]
                elif target in by_id:
                    hits = [by_id[target]]
                else:
                    raise BundleError(
                        file,
                        f"{prefix}{name}.{value}.{target}",
                        "neither a category nor an offer id",
                    )
                for i in hits:
                    weights[i] *= weight
            table[value] = tuple(weights)
        tables[path] = table
    return ContextWeights(tables)
