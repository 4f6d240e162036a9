"""`experiments.yaml` is checked when the bundle loads: every problem stops the load with
the file and the field named."""

from __future__ import annotations

from typing import Any

import pytest

from experiment_bundles import WithExperiments
from nextbest.bundle import BundleError, load_bundle

CHAMPION = {"id": "champion", "share": 0.9}
CONTROL = {"id": "control", "share": 0.1, "policy": "no_offer"}


def web(*arms: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "id": "web_test",
        "salt": "s1",
        "scope": {"channels": ["web"]},
        "arms": list(arms),
        **fields,
    }


def refusal(with_experiments: WithExperiments, *experiments: dict[str, Any]) -> BundleError:
    with pytest.raises(BundleError) as caught:
        load_bundle(with_experiments(list(experiments)))
    assert caught.value.file == "experiments.yaml"
    return caught.value


def test_a_valid_file_loads(with_experiments: WithExperiments) -> None:
    bundle = load_bundle(
        with_experiments(
            [
                web(CHAMPION, CONTROL),
                {
                    "id": "desk",
                    "salt": "s2",
                    "scope": {"channels": ["call_center"]},
                    "arms": [
                        {"id": "a", "share": 1 / 3},
                        {"id": "b", "share": 1 / 3, "policy": "rules_only"},
                        {"id": "c", "share": 1 / 3, "levers": {"upsell": 1.5}},
                    ],
                },
            ]
        )
    )
    assert [e.id for e in bundle.experiments.all] == ["web_test", "desk"]
    assert bundle.experiments.find("web", None) is bundle.experiments.all[0]
    assert bundle.experiments.find("call_center", "agent_desktop") is bundle.experiments.all[1]


def test_no_file_means_no_experiments(with_experiments: WithExperiments) -> None:
    assert not load_bundle(with_experiments([])).experiments


def test_shares_must_sum_to_one(with_experiments: WithExperiments) -> None:
    error = refusal(with_experiments, web(CHAMPION, {**CONTROL, "share": 0.2}))
    assert error.field == "experiments[0].arms"
    assert "sum to 1.1" in error.problem


def test_a_share_above_one_is_named(with_experiments: WithExperiments) -> None:
    error = refusal(with_experiments, web(CHAMPION, {**CONTROL, "share": 1.5}))
    assert error.field == "experiments[0].arms[1].share"


def test_two_experiments_may_not_cover_the_same_channel_and_placement(
    with_experiments: WithExperiments,
) -> None:
    every_channel = {"id": "everywhere", "salt": "s2", "arms": [CHAMPION, CONTROL]}
    error = refusal(with_experiments, web(CHAMPION, CONTROL), every_channel)
    assert error.field == "experiments[1].scope"
    assert "web_test" in error.problem


def test_an_experiment_on_any_placement_overlaps_one_on_a_placement(
    with_experiments: WithExperiments,
) -> None:
    home = web(CHAMPION, CONTROL, id="home", scope={"channels": ["web"], "placements": ["home"]})
    error = refusal(with_experiments, web(CHAMPION, CONTROL), home)
    assert error.field == "experiments[1].scope"


def test_different_placements_of_one_channel_do_not_overlap(
    with_experiments: WithExperiments,
) -> None:
    home = web(CHAMPION, CONTROL, id="home", scope={"channels": ["web"], "placements": ["home"]})
    basket = web(
        CHAMPION,
        CONTROL,
        id="basket",
        salt="s2",
        scope={"channels": ["web"], "placements": ["basket"]},
    )
    experiments = load_bundle(with_experiments([home, basket])).experiments
    assert experiments.find("web", "home").id == "home"  # type: ignore[union-attr]
    assert experiments.find("web", "basket").id == "basket"  # type: ignore[union-attr]
    assert experiments.find("web", None) is None
    assert experiments.find("web", "checkout") is None


@pytest.mark.parametrize(
    ("experiments", "field"),
    [
        ([web(CHAMPION, CONTROL), web(CHAMPION, CONTROL, scope={})], "experiments"),
        ([web(CHAMPION, {**CONTROL, "id": "champion"})], "experiments[0].arms"),
        ([web(CHAMPION)], "experiments[0].arms"),
        ([web(CHAMPION, CONTROL, scope={"channels": ["fax"]})], "experiments[0].scope.channels"),
        ([web(CHAMPION, CONTROL, colour="red")], "experiments[0].colour"),
        ([web(CHAMPION, {**CONTROL, "policy": "coin_flip"})], "experiments[0].arms[1].policy"),
        ([web(CHAMPION, CONTROL, salt="")], "experiments[0].salt"),
    ],
    ids=[
        "duplicate experiment ids",
        "duplicate arm ids",
        "a single arm",
        "unknown channel",
        "unknown field",
        "unknown policy",
        "empty salt",
    ],
)
def test_a_malformed_experiment_is_named(
    with_experiments: WithExperiments, experiments: list[dict[str, Any]], field: str
) -> None:
    assert refusal(with_experiments, *experiments).field == field


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"models": {"gas_supply": "oracle"}}, "experiments[0].arms[1].models.gas_supply"),
        ({"models": {"time_machine": "propensity"}}, "experiments[0].arms[1].models.time_machine"),
        ({"levers": {"time_machine": 2.0}}, "experiments[0].arms[1].levers.time_machine"),
        ({"levers": {"upsell": -1}}, "experiments[0].arms[1].levers"),
        (
            {"context_weights": {"call_reason": {"alien_visit": {"upsell": 2}}}},
            "experiments[0].arms[1].context_weights.call_reason.alien_visit",
        ),
        (
            {"context_weights": {"shoe_size": {"x": {"upsell": 2}}}},
            "experiments[0].arms[1].context_weights.shoe_size",
        ),
        (
            {"context_weights": {"call_reason": {"complaint": {"time_machine": 2}}}},
            "experiments[0].arms[1].context_weights.call_reason.complaint.time_machine",
        ),
        ({"keep_service": False}, "experiments[0].arms[1].keep_service"),
    ],
    ids=[
        "unknown model",
        "model for an unknown offer",
        "lever for an unknown offer",
        "negative lever",
        "weight for an unknown call reason",
        "weight on an unknown field",
        "weight for an unknown offer",
        "keep_service without no_offer",
    ],
)
def test_a_bad_override_is_named(
    with_experiments: WithExperiments, override: dict[str, Any], field: str
) -> None:
    challenger = {"id": "challenger", "share": 0.1, **override}
    error = refusal(with_experiments, web(CHAMPION, challenger))
    assert error.field == field
