"""The web shop: live offers for page placements, impressions and clicks as feedback.

A logged-in visitor (from the same customer population as the calls, so that caps
across channels bind) views a few pages; each page asks for offers for its placements at
once, as a page render does. A rendered banner reports an impression (`presented`), a
click `accepted`, a closed banner `declined`; a banner the page never showed (the
visitor left, or it stayed below the fold) is `discarded`, releasing its contact. Web
shops report no per-impression "ignored". Traffic is bursty: for `BURST_S` of every
`BURST_PERIOD_S` seconds (a newsletter just went out) visitors click through
`BURST_FACTOR` times faster.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from scenarios.customers import CustomerPool

__all__ = [
    "PageView",
    "Placement",
    "between_visits_s",
    "burst_factor",
    "impression_outcomes",
    "plan_visit",
]

# page -> its placements and how many offers each shows
PAGES: dict[str, tuple[tuple[str, int], ...]] = {
    "home": (("home_hero", 1), ("home_teaser", 2)),
    "tariffs": (("tariff_banner", 1),),
    "account": (("account_sidebar", 2),),
    "checkout": (("checkout_banner", 1),),
}
PAGE_SHARES = {"home": 0.35, "tariffs": 0.25, "account": 0.3, "checkout": 0.1}
PAGES_PER_VISIT_MEAN = 3.0
# Real-time seconds (lognormal medians), multiplied by the profile's time scale.
READ_PAGE_S = 20.0
BETWEEN_VISITS_S = 120.0
BURST_PERIOD_S = 30.0
BURST_S = 8.0
BURST_FACTOR = 5.0
# Of the offers a page asked for: shown (else discarded); of those shown: clicked,
# closed.
SHOWN = 0.9
CLICKED = 0.035
CLOSED = 0.04


@dataclass(frozen=True)
class Placement:
    name: str
    body: dict[str, Any]


@dataclass(frozen=True)
class PageView:
    page: str
    placements: list[Placement]
    read_s: float
    """Seconds on the page before the next one (scaled, not yet burst-adjusted)."""


def burst_factor(now_s: float) -> float:
    """How much faster visitors move at wall-clock time `now_s`."""
    return BURST_FACTOR if now_s % BURST_PERIOD_S < BURST_S else 1.0


def plan_visit(
    rng: random.Random,
    pool: CustomerPool,
    *,
    channel: str,
    time_scale: float,
    dry_run: bool,
) -> list[PageView]:
    """The pages of one visit by one customer, with the decision requests they make."""
    customer = pool.profile(pool.draw(rng))
    pages = list(PAGE_SHARES)
    count = 1 + int(rng.expovariate(1 / (PAGES_PER_VISIT_MEAN - 1)))
    views = []
    for page in rng.choices(pages, weights=[PAGE_SHARES[p] for p in pages], k=count):
        placements = []
        for name, limit in PAGES[page]:
            context: dict[str, Any] = {"channel": channel, "placement": name}
            if pool.vocabulary.context_attributes.get("page") == "string":
                context["attributes"] = {"page": page}
            body = {
                "customer": customer,
                "context": context,
                "limit": limit,
                "explain": False,
                "dry_run": dry_run,
            }
            placements.append(Placement(name=name, body=body))
        read_s = rng.lognormvariate(0.0, 0.8) * READ_PAGE_S * time_scale
        views.append(PageView(page=page, placements=placements, read_s=read_s))
    return views


def between_visits_s(rng: random.Random, time_scale: float) -> float:
    return rng.expovariate(1 / BETWEEN_VISITS_S) * time_scale


def impression_outcomes(rng: random.Random, offers: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(offer id, outcome) events a rendered placement reports for its offers: one
    `presented` per shown banner and then maybe `accepted` or `declined`; `discarded`
    for one never shown."""
    events: list[tuple[str, str]] = []
    for offer in offers:
        offer_id = offer["offer_id"]
        if rng.random() >= SHOWN:
            events.append((offer_id, "discarded"))
            continue
        events.append((offer_id, "presented"))
        roll = rng.random()
        if roll < CLICKED:
            events.append((offer_id, "accepted"))
        elif roll < CLICKED + CLOSED:
            events.append((offer_id, "declined"))
    return events
