"""A population of load-test customers: ids from a reserved range, drawn skewed.

Ids are `<prefix><rank>` (default `LT-000001` ... `LT-050000`), a range no real customer
has, so that the contacts a load test records can be told apart and removed. They are
drawn with a Zipf-like law, P(rank k) proportional to 1 / k^skew: with the defaults
(50,000 customers, skew 0.8) the most frequent customer gets about 2.6 % of the
traffic and the top 1,000 about 40 %, so the same customers come back within minutes
and hit their caps, while the long tail stays uncapped, as in real peak traffic.

Each customer's profile (stage, CLV, tenure, churn score, owned products, consent,
region) is derived from the id alone, so a customer who comes back is the same person.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import random
from typing import Any

from scenarios.vocabulary import Vocabulary

__all__ = ["CustomerPool"]

# Share of customers per lifecycle stage (a stage the bundle has but this table lacks
# gets weight 1.0 / len(table)).
STAGE_SHARES = {"new": 0.12, "growing": 0.25, "loyal": 0.38, "at_risk": 0.15, "lapsed": 0.10}
# CLV: lognormal, median by stage (EUR), sigma 0.7; about a quarter above 1,500 EUR.
CLV_MEDIAN = {"new": 600.0, "growing": 800.0, "loyal": 1300.0, "at_risk": 1000.0, "lapsed": 500.0}
TENURE_MONTHS = {"new": (0, 6), "growing": (6, 24), "loyal": (24, 180), "at_risk": (6, 120)}
REGIONS = ("BY", "BW", "NW", "NI", "HE", "BE", "HH", "SN")


class CustomerPool:
    def __init__(
        self, vocabulary: Vocabulary, *, size: int = 50_000, skew: float = 0.8, prefix: str = "LT-"
    ) -> None:
        if size < 1:
            raise ValueError("the pool needs at least one customer")
        self.vocabulary = vocabulary
        self.size = size
        self.prefix = prefix
        self._width = max(6, len(str(size)))
        self._cumulative = list(itertools.accumulate(1.0 / k**skew for k in range(1, size + 1)))
        fallback = 1.0 / len(STAGE_SHARES)
        self._stages = vocabulary.lifecycle_stages
        self._stage_weights = [STAGE_SHARES.get(s, fallback) for s in self._stages]
        self.profile = functools.lru_cache(maxsize=100_000)(self._profile)

    def customer_id(self, rank: int) -> str:
        return f"{self.prefix}{rank:0{self._width}d}"

    def draw(self, rng: random.Random) -> str:
        """A customer id, skewed towards the low ranks."""
        point = rng.random() * self._cumulative[-1]
        rank = bisect.bisect_left(self._cumulative, point) + 1
        return self.customer_id(min(rank, self.size))

    def _profile(self, customer_id: str) -> dict[str, Any]:
        """The `customer` object of a decision request, the same for the same id; only
        the attributes the bundle declares with the kind given here. Treat as read-only
        (it is cached)."""
        rng = random.Random(customer_id)
        customer: dict[str, Any] = {"id": customer_id}
        stage = ""
        if self._stages:
            stage = rng.choices(self._stages, weights=self._stage_weights)[0]
            customer["lifecycle_stage"] = stage
        customer["clv"] = round(rng.lognormvariate(0.0, 0.7) * CLV_MEDIAN.get(stage, 900.0), 2)
        low, high = TENURE_MONTHS.get(stage, (12, 120))
        own_share = 0.3 if stage == "loyal" else 0.12
        churn = rng.betavariate(5, 2) if stage == "at_risk" else rng.betavariate(2, 6)
        values: dict[str, tuple[str, Any]] = {
            "tenure_months": ("number", rng.randint(low, high)),
            "churn_score": ("number", round(churn, 3)),
            "owned_products": (
                "string_list",
                [p for p in self.vocabulary.products if rng.random() < own_share],
            ),
            "marketing_consent": ("boolean", rng.random() < 0.8),
            "region": ("string", rng.choice(REGIONS)),
        }
        declared = self.vocabulary.customer_attributes
        customer["attributes"] = {
            name: value for name, (kind, value) in values.items() if declared.get(name) == kind
        }
        return customer
