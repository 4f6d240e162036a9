"""The demo bundle's model, trained the way every user trains theirs.

``nextbest train-demo`` writes the seeded synthetic history (:mod:`.synthetic`) as a
CSV and runs ``nextbest train`` on it with the bundle's ``training/spec.yaml``. The
same seed and row count give byte-identical files and checksums.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from nextbest.training.catalogue import load_catalogue
from nextbest.training.history import write_csv
from nextbest.training.progress import Progress
from nextbest.training.spec import DEFAULT_SEED
from nextbest.training.synthetic import generate_demo_history
from nextbest.training.train import TrainingReport, train_model

__all__ = [
    "DEFAULT_ROWS",
    "DEFAULT_SEED",
    "DEMO_SPEC",
    "build_demo_models",
    "write_demo_history",
]

DEFAULT_ROWS = 60_000
DEMO_SPEC = Path("training") / "spec.yaml"
HISTORY_NAME = "demo-history.csv"


def write_demo_history(bundle_dir: Path, path: Path, *, seed: int, n_rows: int) -> Path:
    """Generate the demo's synthetic history for the bundle's catalogue as a CSV at ``path``."""
    offers, vocabulary = load_catalogue(bundle_dir)
    write_csv(generate_demo_history(offers, vocabulary, n_rows, seed), path)
    return path


def build_demo_models(
    bundle_dir: Path,
    *,
    seed: int = DEFAULT_SEED,
    n_rows: int = DEFAULT_ROWS,
    history: Path | None = None,
    spec: Path | None = None,
    progress: Progress | None = None,
) -> TrainingReport:
    """Write the synthetic history (to ``history``, else a scratch file) and train on it."""
    progress = progress or Progress(None)
    with tempfile.TemporaryDirectory(prefix="nextbest-demo-") as scratch:
        path = history or Path(scratch) / HISTORY_NAME
        with progress.step(f"generating {n_rows} synthetic presentations"):
            write_demo_history(bundle_dir, path, seed=seed, n_rows=n_rows)
        return train_model(
            path, spec or bundle_dir / DEMO_SPEC, bundle_dir, seed=seed, progress=progress
        )
