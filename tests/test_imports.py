"""Every top-level module and subpackage imports on its own, first, in a fresh
interpreter: no import cycles that only the usual import order hides."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import nextbest

MODULES = sorted(m.name for m in pkgutil.iter_modules(nextbest.__path__, "nextbest."))


def test_the_subpackages_are_found() -> None:
    assert {"nextbest.pressure", "nextbest.bundle", "nextbest.api", "nextbest.cli"} <= set(MODULES)


@pytest.mark.parametrize("package", MODULES)
def test_a_module_imports_first(package: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {package}"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
