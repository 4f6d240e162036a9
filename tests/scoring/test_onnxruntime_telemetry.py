"""onnxruntime's telemetry is off in a process that scores through nextbest, unless the
environment asks for it (see nextbest/__init__.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nextbest.config import default_bundle_path

_SCORE = """
import sys
from pathlib import Path
from nextbest.bundle import load_bundle
bundle = load_bundle(Path(sys.argv[1]))
print(len(bundle.models))
"""


def _score_in_a_clean_process(home: Path, **env: str) -> None:
    """Load the demo bundle (its ONNX sessions) in a process whose environment has only
    PATH and HOME (onnxruntime holds its telemetry back where it sees a CI variable)."""
    finished = subprocess.run(
        [sys.executable, "-c", _SCORE, str(default_bundle_path())],
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr


def _telemetry_files(home: Path) -> list[Path]:
    return sorted(p for p in home.rglob("*") if p.is_file())


def test_scoring_keeps_no_device_id(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    _score_in_a_clean_process(home)
    assert _telemetry_files(home) == []


def test_the_environment_can_turn_it_back_on(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    _score_in_a_clean_process(home, ORT_DISABLE_TELEMETRY="0")
    if not _telemetry_files(home):
        pytest.skip("this onnxruntime keeps no telemetry files: nothing to turn off")
    assert any("onnxruntime" in str(p) for p in _telemetry_files(home))
