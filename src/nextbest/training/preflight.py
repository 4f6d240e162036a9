"""Everything ``nextbest train`` can check before it fits, checked at once.

The spec's sources against the bundle's fields, the spec's offer against ``offers.yaml``,
and the history's header against the spec's columns: every problem found is reported in
one error, so that one run shows all there is to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nextbest.bundle import known_fields
from nextbest.bundle._schema import BundleFile, OfferSpec
from nextbest.bundle.files import read_bundle_file, read_offers_file
from nextbest.training.errors import TrainingError
from nextbest.training.history import column_problems
from nextbest.training.spec import TrainingSpec, source_problems

__all__ = ["TrainingProblemsError", "preflight", "read_bundle"]


class TrainingProblemsError(TrainingError):
    """Several problems, each naming its file and field; nothing was fitted."""

    def __init__(self, problems: Sequence[TrainingError]) -> None:
        self.problems = tuple(problems)
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            "nextbest train", None, f"{len(problems)} problems, nothing trained:\n{listed}"
        )


def read_bundle(bundle_dir: Path) -> tuple[BundleFile, list[OfferSpec]]:
    """``bundle.yaml`` and ``offers.yaml`` of the bundle training writes into."""
    if not (bundle_dir / "bundle.yaml").is_file() or not (bundle_dir / "offers.yaml").is_file():
        raise TrainingError(
            str(bundle_dir),
            None,
            "not a bundle: --out needs a directory with bundle.yaml and offers.yaml "
            "(`nextbest init DIR --spec SPEC` writes one)",
        )
    return read_bundle_file(bundle_dir), list(read_offers_file(bundle_dir).offers)


def _offer_problems(spec: TrainingSpec, catalogue: Sequence[OfferSpec]) -> list[TrainingError]:
    ids = sorted(o.id for o in catalogue)
    if spec.offer_id is None or spec.offer_id in ids:
        return []
    return [
        TrainingError(
            spec.file,
            "offer.id",
            f"offer {spec.offer_id!r} is not in offers.yaml (it has: {', '.join(ids)})",
        )
    ]


def preflight(
    spec: TrainingSpec, bundle_dir: Path, data: Path
) -> tuple[BundleFile, list[OfferSpec]]:
    """The bundle's metadata and offers; raises one error listing every problem."""
    meta, catalogue = read_bundle(bundle_dir)
    problems = [
        *source_problems(spec, known_fields(meta.customer_attributes, meta.context_attributes)),
        *_offer_problems(spec, catalogue),
        *column_problems(data, {c: spec.fields[c] for c in spec.columns}),
    ]
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise TrainingProblemsError(problems)
    return meta, catalogue
