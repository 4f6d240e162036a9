"""The report's HTML page in a real browser (Debian's chromium driven by Playwright): it
loads nothing from elsewhere, its charts are drawn, and its look is checked in a
screenshot (`NEXTBEST_REPORT_SCREENSHOT=PATH` keeps it, as docs/report.png was made)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from simulated_experiment import (
    Arm,
    assign,
    demo_population,
    history_records,
    serve,
    simulation_rng,
    write_history,
)

from chromium import launched, playwright_or_skip
from nextbest.bundle import Bundle
from nextbest.cli import main

sync_api = playwright_or_skip()


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory, demo_bundle: Bundle) -> Path:
    arms = [Arm("control", 0.2, "none"), Arm("model", 0.8, "ranked", demo_bundle)]
    rng = simulation_rng(4)
    population = demo_population(400, 4)
    rows = assign(arms, 400, rng)
    served = [s for arm in arms for s in serve(population, rows[arm.name], arm, rng)]
    work = tmp_path_factory.mktemp("report")
    history = write_history(work / "history", history_records(population, served, rng))
    page = work / "report.html"
    assert main(["report", "--history", str(history), "--html", str(page)]) == 0
    return page


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched(sync_api) as chromium:
        yield chromium


def test_the_page_draws_its_charts_from_nothing_but_itself(browser: Any, page_file: Path) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    console: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.goto(page_file.as_uri())
    assert requests == [page_file.as_uri()]
    assert console == []
    charts = page.query_selector_all("svg")
    assert len(charts) == 4
    for chart in charts:
        box = chart.bounding_box()
        assert box["width"] > 300
        assert box["height"] > 80
    dots = page.query_selector_all("svg circle")
    assert len(dots) == 2 * 2 + 2 * 1  # arms per measure, then the one uplift per measure
    assert "model" in page.inner_text("table")
    shot = page.screenshot(full_page=True)
    assert len(shot) > 20_000  # a drawn page, not a blank one
    keep = os.environ.get("NEXTBEST_REPORT_SCREENSHOT")
    if keep:
        Path(keep).write_bytes(shot)
    page.close()
