"""Debian's chromium driven by Playwright, for the tests that need a real browser
(browser downloads are not reachable: Playwright launches this one by its path)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def playwright_or_skip() -> Any:
    """Playwright's sync API. Without chromium the calling test module is skipped, except
    in CI, where `.ci/run` installs it and a missing browser must fail."""
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip(
            "needs Debian's chromium (`apt-get install -y chromium`, as .ci/run does)",
            allow_module_level=True,
        )
    return pytest.importorskip("playwright.sync_api")


@contextlib.contextmanager
def launched(sync_api: Any) -> Iterator[Any]:
    """A chromium browser, closed on the way out."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
