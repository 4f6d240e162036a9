"""The decision explorer in a real browser: Debian's chromium driven by Playwright, against
a real `nextbest serve`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _servers import nextbest_server

from chromium import launched, playwright_or_skip

sync_api = playwright_or_skip()


_SHOWS_A_NEW_ANSWER_TO = """([previous, fields]) => {
  if ((document.body.dataset.decided || '') === previous) return false;
  let request;
  try { request = JSON.parse(document.querySelector('#raw').textContent).request; }
  catch { return false; }
  return Object.entries(fields).every(([path, value]) => {
    let found = request;
    for (const key of path.split('.')) found = found == null ? undefined : found[key];
    return String(found) === value;
  });
}"""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with nextbest_server(log_dir=tmp_path_factory.mktemp("explorer")) as server:
        yield server.base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched(sync_api) as chromium:
        yield chromium


class Explorer:
    """The page, with every console message, page error and request it made."""

    def __init__(self, browser: Any, base: str) -> None:
        self.base = base
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.console: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(f"{base}/ui/")
        self.page.wait_for_selector("body[data-ready]")

    def decide(self, **fields: str) -> None:
        previous = self.page.evaluate("document.body.dataset.decided || ''")
        for name, value in fields.items():
            selector = f"[name='{name}']"
            if self.page.eval_on_selector(selector, "e => e.tagName") == "SELECT":
                self.page.select_option(selector, value)
            else:
                self.page.fill(selector, value)
        self.page.click("button[type=submit]")
        # every change of the form also asks for a decision, and an answer to an earlier
        # state of the form may still be on its way: wait for one to this state
        self.page.wait_for_function(_SHOWS_A_NEW_ANSWER_TO, arg=[previous, fields])

    def ranked(self) -> list[tuple[str, str]]:
        return [
            (card.get_attribute("data-offer"), card.get_attribute("data-category"))
            for card in self.page.query_selector_all("#ranked .offer")
        ]

    def dropped(self) -> dict[str, tuple[str, str, str]]:
        return {
            card.get_attribute("data-offer"): (
                card.get_attribute("data-category"),
                card.get_attribute("data-reason"),
                card.inner_text(),
            )
            for card in self.page.query_selector_all("#dropped .offer")
        }


@pytest.fixture
def explorer(browser: Any, base: str) -> Iterator[Explorer]:
    page = Explorer(browser, base)
    try:
        yield page
    finally:
        page.page.close()


@pytest.mark.slow
def test_the_page_loads_with_no_console_errors_and_nothing_from_elsewhere(
    explorer: Explorer,
) -> None:
    explorer.decide()
    assert explorer.console == []
    assert all(url.startswith(explorer.base) for url in explorer.requests), explorer.requests
    assert explorer.page.inner_text("#bundle").startswith("demo-energy ")
    assert "no reload since start-up" in explorer.page.inner_text("#bundle")
    options = explorer.page.eval_on_selector_all(
        "[name='context.call_reason'] option", "os => os.map(o => o.value)"
    )
    assert "complaint" in options
    assert explorer.page.query_selector("[name='customer.attributes.tenure_months']")
    assert len(explorer.page.query_selector_all("#catalogue tbody tr")) == 20


@pytest.mark.slow
def test_a_complaint_after_a_long_wait_ranks_service_first_and_drops_sales_by_rule(
    explorer: Explorer,
) -> None:
    explorer.decide(**{"context.call_reason": "complaint", "context.wait_time_s": "420"})
    ranked = explorer.ranked()
    assert ranked
    assert ranked[0][1] == "service"
    sales = {k: v for k, v in explorer.dropped().items() if v[0] in ("upsell", "cross_sell")}
    assert sales
    for category, reason, text in sales.values():
        assert reason == "rule:no_sales_on_complaint_or_cancellation", (category, reason)
        assert 'context.call_reason in ["complaint", "contract_cancellation"]' in text
    bars = explorer.page.query_selector_all("#ranked .offer:first-child [role=meter]")
    labels = [b.get_attribute("aria-label") for b in bars]
    assert labels == ["propensity", "context_weight", "value", "lever", "boost", "priority"]
    assert "priority = propensity" in explorer.page.inner_text("#formula")
    raw = explorer.page.text_content("#raw") or ""
    assert '"call_reason": "complaint"' in raw
    assert explorer.console == []


@pytest.mark.slow
def test_another_call_reason_changes_the_ranking(explorer: Explorer) -> None:
    explorer.decide(**{"context.call_reason": "complaint", "context.wait_time_s": "420"})
    complaint = explorer.ranked()
    explorer.decide(**{"context.call_reason": "move_house", "context.wait_time_s": "30"})
    moving = explorer.ranked()
    assert moving != complaint
    assert {category for _, category in moving} - {"service"}
    assert explorer.console == []


@pytest.mark.slow
def test_a_refused_request_shows_the_problem(explorer: Explorer) -> None:
    explorer.page.fill("[name='customer.id']", "")
    explorer.page.evaluate("document.querySelector('#request').noValidate = true")
    explorer.page.click("button[type=submit]")
    explorer.page.wait_for_selector("#problem:not([hidden])")
    assert "customer.id" in explorer.page.inner_text("#problem")
