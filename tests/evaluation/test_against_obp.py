"""The estimators against an independent implementation, Open Bandit Pipeline (`obp`),
slot by slot: under the item-position model each slot is a one-position bandit log, and
obp's IPW, SNIPW and DR on it must give our per-slot IPS, SNIPS and DR.

obp is not in the dev extra: its releases pin old exact versions of scikit-learn, scipy
and pandas, require Python < 3.11 and import torch. The test runs where it imports (see
the README, 'Evaluate before you deploy', for how it was run once here)."""

from __future__ import annotations

import numpy as np
import pytest

from nextbest.evaluation.estimators import LoggedSlots, SlotRewards, doubly_robust, ips, snips

obp_ope = pytest.importorskip("obp.ope")

N, ACTIONS, SLOTS = 400, 6, 3


def _log(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "action": rng.integers(0, ACTIONS, (N, SLOTS)),
        "pscore": rng.uniform(0.05, 1.0, (N, SLOTS)),
        "reward": rng.integers(0, 2, (N, SLOTS)).astype(float),
        "pi": rng.dirichlet(np.ones(ACTIONS), (N, SLOTS)).transpose(0, 2, 1),
        "q": rng.uniform(0.0, 1.0, (N, ACTIONS, SLOTS)),
    }


def _ours(log: dict[str, np.ndarray], k: int) -> tuple[LoggedSlots, SlotRewards]:
    rows = np.arange(N)
    action = log["action"][:, k]
    slots = LoggedSlots(
        present=np.ones((N, 1)),
        logged=log["pscore"][:, k : k + 1],
        target=log["pi"][rows, action, k][:, None],
    )
    rewards = SlotRewards(
        observed=log["reward"][:, k : k + 1],
        predicted=log["q"][rows, action, k][:, None],
        direct=(log["pi"][:, :, k] * log["q"][:, :, k]).sum(axis=1)[:, None],
    )
    return slots, rewards


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_slot_matches_obp(seed: int) -> None:
    log = _log(seed)
    ones = np.ones(N)
    for k in range(SLOTS):
        slots, rewards = _ours(log, k)
        given = {
            "reward": log["reward"][:, k],
            "action": log["action"][:, k],
            "action_dist": log["pi"][:, :, k : k + 1],
            "pscore": log["pscore"][:, k],
        }
        assert ips(ones, slots, rewards) == pytest.approx(
            obp_ope.InverseProbabilityWeighting().estimate_policy_value(**given)
        )
        assert snips(ones, slots, rewards) == pytest.approx(
            obp_ope.SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(**given)
        )
        assert doubly_robust(ones, slots, rewards) == pytest.approx(
            obp_ope.DoublyRobust().estimate_policy_value(
                **given, estimated_rewards_by_reg_model=log["q"][:, :, k : k + 1]
            )
        )
