"""The in-process app benchmark runs every configuration to its answer: all decided, none
degraded (a generous store budget: the machine running the suite may be busy)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

LOADTESTS = Path(__file__).resolve().parents[2] / "loadtests"


@pytest.mark.slow
def test_each_part_is_measured_on_decisions_that_were_made() -> None:
    result = subprocess.run(
        [sys.executable, str(LOADTESTS / "bench_app.py"), "--decisions", "200", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=LOADTESTS,
        env={**os.environ, "NEXTBEST_REDIS_BUDGET_MS": "1000"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    runs = [line for line in result.stdout.splitlines() if line.startswith("round 1 ")]
    assert len(runs) == 4, result.stdout
    assert all(line.endswith("not decided 0, degraded 0") for line in runs), result.stdout
    table = result.stdout.split("cpu us/decision")[-1]
    for configuration in ("redis", "+ history", "+ log line"):
        assert re.search(rf"^{re.escape(configuration)} +\d+\.\d +[+-]\d+\.\d$", table, re.M)
