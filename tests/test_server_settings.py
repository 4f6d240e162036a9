"""What `nextbest serve` needs from its machine beyond the settings: a clear refusal where
it is missing, not a traceback."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from nextbest.config import SettingsError
from nextbest.server import _shared_metrics_dir


def test_several_workers_without_a_writable_temporary_directory_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    with pytest.raises(SettingsError) as refused, _shared_metrics_dir():
        pass
    assert refused.value.field == "NEXTBEST_WORKERS"
    assert "TMPDIR" in str(refused.value)


def test_several_workers_share_a_metrics_directory_removed_on_the_way_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with _shared_metrics_dir():
        shared = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        assert shared.parent == tmp_path
        assert shared.is_dir()
    assert not shared.exists()
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
