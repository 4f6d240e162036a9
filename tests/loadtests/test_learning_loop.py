"""The loop closes: served decisions and their feedback, exported from the history,
retrain a model that knows the population better, and the service reloads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from learning_loop import run_loop


@pytest.mark.slow
def test_retraining_on_the_history_raises_the_auc_against_the_truth(tmp_path: Path) -> None:
    result = run_loop(
        tmp_path, decisions=1500, seed=11, start_rows=1500, eval_rows=5000, family=None
    )
    assert result.reloaded
    assert result.rows == 3 * result.decisions
    assert result.accepted > 0
    assert result.auc_after > result.auc_before  # seeded: the same figures every run
