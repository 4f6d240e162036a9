"""Exploring decisions end to end (ranking, gate, store, history record): over many
identical requests, each (offer, rank) turns up as often as its logged propensity says.

The check is per cell: |observed - p| < 4.2 standard errors of a binomial share (a 0.001
family-wise level over the cells, Bonferroni), plus the integration error for Thompson.
Every random number comes from the decision id or a fixed seed, so the tests are
deterministic.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from helpers import DEMO_BUNDLE
from nextbest.bundle import Bundle, load_bundle, seal_bundle
from nextbest.decide import Decider
from nextbest.decide.types import Context, Customer, DecisionRequest
from nextbest.decide.values import Decision
from nextbest.errors import BundleError
from nextbest.exploration.propensity import EpsilonGreedy
from nextbest.history.build import FieldFilter, decision_record
from nextbest.pressure import ContactStore, MemoryContactStore
from nextbest.pressure.gate import PressureGate
from nextbest.pressure.redis import RedisContactStore
from nextbest.service import decide
from redis_server import RedisServer

NOW = 1_800_000_000_000
EXPLORATION = [
    {"channel": "web", "placement": "epsilon_box", "epsilon": 0.3},
    {"channel": "call_center", "epsilon": 0.5},
    {"channel": "web", "placement": "thompson_box", "thompson": {"prior_strength": 30}},
]


def _bundle(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    root = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE, root)
    (root / "exploration.yaml").write_text(yaml.safe_dump({"exploration": entries}))
    seal_bundle(root)
    return root


@pytest.fixture(scope="module")
def exploring(tmp_path_factory: pytest.TempPathFactory) -> Decider:
    return Decider(load_bundle(_bundle(tmp_path_factory.mktemp("explore"), EXPLORATION)))


def _request(
    channel: str, *, placement: str | None = None, explain: bool = False
) -> DecisionRequest:
    return DecisionRequest(
        customer=Customer(id="C-explore", clv=1200.0),
        context=Context(channel=channel, placement=placement, call_reason="billing_question"),
        limit=3,
        explain=explain,
        dry_run=True,
    )


def _run(
    decider: Decider,
    store: ContactStore,
    request: DecisionRequest,
    draws: int,
    seed_contacts: Callable[[ContactStore, Bundle], Any] | None = None,
) -> tuple[Counter[tuple[str, int]], dict[tuple[str, int], float], list[Decision]]:
    async def main() -> tuple[
        Counter[tuple[str, int]], dict[tuple[str, int], float], list[Decision]
    ]:
        gate = PressureGate(store, budget_s=2.0, clock_ms=lambda: NOW)
        if seed_contacts is not None:
            await seed_contacts(store, decider.bundle)
        seen: Counter[tuple[str, int]] = Counter()
        logged: dict[tuple[str, int], float] = {}
        decisions = []
        try:
            for _ in range(draws):
                decision = await decide(decider, gate, request)
                record = decision_record(decision, "demo", FieldFilter(set(), set()))
                for offer in record.offers:
                    cell = (offer.offer_id, offer.rank)
                    seen[cell] += 1
                    previous = logged.setdefault(cell, offer.logged_propensity)
                    assert previous == pytest.approx(offer.logged_propensity, abs=1e-12)
                if len(decisions) < 50:
                    decisions.append(decision)
        finally:
            await gate.aclose()
        return seen, logged, decisions

    return asyncio.run(main())


def _assert_frequencies_match(
    seen: Counter[tuple[str, int]],
    logged: dict[tuple[str, int], float],
    draws: int,
    slack: float = 0.0,
) -> None:
    assert len(seen) > 3  # exploring did show other offers than the greedy three
    for cell, count in seen.items():
        p = logged[cell]
        sd = np.sqrt(p * (1 - p) / draws)
        assert abs(count / draws - p) <= 4.2 * sd + slack + 1e-12, (cell, count / draws, p)
    ranks = {rank for _, rank in seen}
    for rank in ranks:
        unseen = 1.0 - sum(p for (_, r), p in logged.items() if r == rank)
        assert unseen < 0.01  # the cells never seen carry (almost) no probability


def test_epsilon_frequencies_match_the_logged_propensities(exploring: Decider) -> None:
    draws = 2_500
    seen, logged, _ = _run(
        exploring, MemoryContactStore(), _request("web", placement="epsilon_box"), draws
    )
    _assert_frequencies_match(seen, logged, draws)


async def _one_retention_contact(store: ContactStore, bundle: Bundle) -> None:
    """A retention offer shown on the web: its 30-day cap is full, one of three weekly
    sales contacts is used."""
    retention = next(o.id for o in bundle.offers if o.category == "retention")
    await store.select(
        "C-explore", "seed", [bundle.policies.candidate("web", retention)], 1, NOW, True
    )


def test_epsilon_under_caps_that_block_offers_and_fill_during_the_decision(
    exploring: Decider,
) -> None:
    """call_center: one sales offer a day, so the decision's first sales pick blocks the
    others for its later slots; the retention offers are blocked from the start."""
    draws = 2_500
    seen, logged, decisions = _run(
        exploring, MemoryContactStore(), _request("call_center"), draws, _one_retention_contact
    )
    _assert_frequencies_match(seen, logged, draws)
    sales = {o.id for o in exploring.bundle.offers if o.category != "service"}
    assert all(sum(o in sales for o in d.selection.selected) <= 1 for d in decisions)
    retention = {o.id for o in exploring.bundle.offers if o.category == "retention"}
    assert not any(offer in retention for offer, _ in seen)


def test_the_redis_store_explores_as_the_embedded_one(
    exploring: Decider, redis_server: RedisServer
) -> None:
    draws = 1_000
    store = RedisContactStore.from_url(redis_server.url, timeout_s=2.0)
    seen, logged, _ = _run(exploring, store, _request("call_center"), draws, _one_retention_contact)
    _assert_frequencies_match(seen, logged, draws)


def test_thompson_frequencies_match_the_logged_propensities(exploring: Decider) -> None:
    draws = 800
    seen, logged, _ = _run(
        exploring, MemoryContactStore(), _request("web", placement="thompson_box"), draws
    )
    _assert_frequencies_match(seen, logged, draws, slack=2e-4)


def test_a_decision_is_reproducible_from_its_id(exploring: Decider) -> None:
    for request in (
        _request("web", placement="epsilon_box"),
        _request("web", placement="thompson_box"),
    ):
        decision_id = uuid.uuid4().hex
        plans = [exploring.explorer.plan(exploring.rank(request, decision_id)) for _ in range(2)]
        assert plans[0] is not None
        assert plans[0] == plans[1]
        other = exploring.explorer.plan(exploring.rank(request, uuid.uuid4().hex))
        assert other is not None


def test_a_channel_that_does_not_explore_decides_as_before(
    exploring: Decider, decider: Decider
) -> None:
    request = _request("web")
    assert exploring.explorer.plan(exploring.rank(request)) is None
    _, logged, decisions = _run(exploring, MemoryContactStore(), request, 5)
    _, _, before = _run(decider, MemoryContactStore(), request, 1)
    assert set(logged.values()) == {1.0}
    assert {d.selection.selected for d in decisions} == {before[0].selection.selected}
    assert all(d.selection.exploration is None for d in decisions)


def test_the_explanation_names_the_explored_ranks(exploring: Decider) -> None:
    request = _request("web", placement="epsilon_box", explain=True)
    _, _, decisions = _run(exploring, MemoryContactStore(), request, 50)
    notes = [d.response.explanation.exploration for d in decisions if d.response.explanation]
    assert all(n is not None and n.policy == "epsilon" and n.parameter == 0.3 for n in notes)
    assert any(n is not None and n.explored_ranks for n in notes)
    for decision in decisions:
        note = decision.response.explanation.exploration if decision.response.explanation else None
        assert note is not None
        assert len(note.logged_propensities) == len(decision.response.offers)


@pytest.mark.parametrize(
    ("entries", "field"),
    [
        ([{"channel": "fax", "epsilon": 0.1}], "exploration[0].channel"),
        ([{"channel": "web", "epsilon": 1.5}], "exploration[0].epsilon"),
        ([{"channel": "web"}], "exploration[0]"),
        ([{"channel": "web", "epsilon": 0.1, "thompson": {"prior_strength": 5}}], "exploration[0]"),
        (
            [{"channel": "web", "thompson": {"prior_strength": 0}}],
            "exploration[0].thompson.prior_strength",
        ),
        (
            [{"channel": "web", "epsilon": 0.1}, {"channel": "web", "epsilon": 0.2}],
            "exploration[1]",
        ),
        ([{"channel": "web", "epsilon": 0.1, "greedy": True}], "exploration[0].greedy"),
    ],
)
def test_a_bad_exploration_file_stops_the_load_naming_the_field(
    tmp_path: Path, entries: list[dict[str, Any]], field: str
) -> None:
    with pytest.raises(BundleError) as refused:
        load_bundle(_bundle(tmp_path, entries))
    assert refused.value.file == "exploration.yaml"
    assert refused.value.field == field


def test_serving_without_thompson_loads_no_scipy() -> None:
    probe = (
        "import sys; from nextbest.api.app import create_app; "
        "from nextbest.decide import Decider; from nextbest.bundle import load_bundle; "
        f"from pathlib import Path; create_app(Decider(load_bundle(Path({str(DEMO_BUNDLE)!r})))); "
        "print('scipy' in sys.modules)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "False"


def test_a_uniform_policy_can_be_asked_for_a_channel_that_does_not_explore(
    exploring: Decider,
) -> None:
    ranking = exploring.rank(_request("web"), uuid.uuid4().hex)
    plan = exploring.explorer.plan(ranking, EpsilonGreedy(1.0))
    assert plan is not None
    assert all(pick >= 0.0 for pick in plan.picks)
