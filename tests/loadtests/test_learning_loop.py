"""The loop closes: served decisions and their feedback, exported from the history,
retrain a model that knows the population better, and the service reloads it."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

LOADTESTS = Path(__file__).resolve().parents[2] / "loadtests"


@pytest.mark.slow
def test_retraining_on_the_history_raises_the_auc_against_the_truth(tmp_path: Path) -> None:
    sys.path.insert(0, str(LOADTESTS))
    try:
        loop = importlib.import_module("learning_loop")
    finally:
        sys.path.remove(str(LOADTESTS))
    result = loop.run_loop(
        tmp_path, decisions=1500, seed=11, start_rows=1500, eval_rows=5000, family=None
    )
    assert result.reloaded
    assert result.rows == 3 * result.decisions
    assert result.accepted > 0
    assert result.auc_after > result.auc_before  # seeded: the same figures every run
