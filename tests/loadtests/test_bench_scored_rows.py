"""The scored-rows benchmark measures both ways on the same runs, and its runs hold fewer
rows when only the eligible offers are scored."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

LOADTESTS = Path(__file__).resolve().parents[2] / "loadtests"


def test_both_ways_are_measured_over_the_same_runs() -> None:
    result = subprocess.run(
        [sys.executable, "bench_scored_rows.py", "--decisions", "60", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=LOADTESTS,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = re.search(r"runs of 5, ([\d.]+) eligible rows a run against ([\d.]+)", result.stdout)
    assert rows is not None, result.stdout
    assert 0 < float(rows[1]) < float(rows[2]) <= 100.0
    for way in ("every offer", "eligible offers"):
        assert re.search(rf"^{way} +median +\d+\.\d us/decision", result.stdout, re.M)
