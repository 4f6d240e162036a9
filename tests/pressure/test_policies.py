"""What a contact policy means: pure code, no store."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import EditYaml
from nextbest.bundle import Bundle, BundleError, load_bundle
from nextbest.pressure.policy import duration_ms


def test_durations() -> None:
    assert duration_ms("45s") == 45_000
    assert duration_ms("30m") == 1_800_000
    assert duration_ms("12h") == 43_200_000
    assert duration_ms("7d") == 604_800_000


def test_service_activities_are_exempt_unless_named(demo_bundle: Bundle) -> None:
    policies = demo_bundle.policies
    assert not policies.needs_check("call_center", "goodwill_credit")
    assert not policies.needs_check("web", "billing_explanation")
    assert policies.needs_check("web", "green_tariff_upgrade")


def test_caps_by_channel_and_category(demo_bundle: Bundle) -> None:
    policies = demo_bundle.policies
    phone = {c.policy_id for c in policies.candidate("call_center", "loyalty_bonus").caps}
    web = {c.policy_id for c in policies.candidate("web", "loyalty_bonus").caps}
    assert phone == {"sales_3_per_7_days", "call_center_1_per_day", "retention_once_per_30_days"}
    assert web == {"sales_3_per_7_days", "retention_once_per_30_days"}


def test_backoff_markers(demo_bundle: Bundle) -> None:
    candidate = demo_bundle.policies.candidate("web", "gas_supply")
    assert set(candidate.backoffs) == {
        "no_repeat_after_decline:gas_supply",
        "one_time_after_accept:gas_supply",
        "sales_pause_after_3_declines:scope",
    }
    retention = demo_bundle.policies.candidate("web", "loyalty_bonus")
    assert "sales_pause_after_3_declines:scope" not in retention.backoffs


def test_feedback_effects(demo_bundle: Bundle) -> None:
    policies = demo_bundle.policies
    declined = policies.feedback_effect("web", "gas_supply", "declined", "D1:gas_supply", "k1")
    assert declined.set_markers == (("no_repeat_after_decline:gas_supply", 14 * 86_400_000),)
    assert [c.policy_id for c in declined.count_declines] == ["sales_pause_after_3_declines"]
    accepted = policies.feedback_effect("web", "gas_supply", "accepted", "D1:gas_supply", "k2")
    assert accepted.set_markers == (("one_time_after_accept:gas_supply", 365 * 86_400_000),)
    discarded = policies.feedback_effect(
        "call_center", "gas_supply", "discarded", "D1:gas_supply", "k3"
    )
    assert set(discarded.release_from) == {"sales_3_per_7_days", "call_center_1_per_day"}
    presented = policies.feedback_effect("web", "gas_supply", "presented", "D1:gas_supply", "k4")
    assert (presented.set_markers, presented.release_from, presented.count_declines) == (
        (),
        (),
        (),
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"window": "0d"}, "policies[0].window"),
        ({"window": "7 days"}, "policies[0].window"),
        ({"window": None}, "policies[0].window"),
        ({"limit": 0}, "policies[0].limit"),
        ({"after": "declined"}, "policies[0].after"),
        ({"scope": {"offers": ["time_machine"]}}, "policies[0].scope.offers"),
        ({"scope": {"channel": "fax"}}, "policies[0].scope.channel"),
        ({"scope": {"categories": ["gifts"]}}, "policies[0].scope.categories[0]"),
    ],
)
def test_a_bad_policy_stops_the_bundle(
    bundle_copy: Any, edit_yaml: EditYaml, change: dict[str, Any], field: str
) -> None:
    def apply(data: Any) -> None:
        policy = data["policies"][0]
        for key, value in change.items():
            if value is None:
                policy.pop(key, None)
            else:
                policy[key] = value

    edit_yaml("policies.yaml", apply)
    with pytest.raises(BundleError) as caught:
        load_bundle(bundle_copy)
    assert (caught.value.file, caught.value.field) == ("policies.yaml", field)


def test_a_backoff_without_pause_is_refused(bundle_copy: Any, edit_yaml: EditYaml) -> None:
    def drop_pause(data: Any) -> None:
        del data["policies"][3]["pause"]

    edit_yaml("policies.yaml", drop_pause)
    with pytest.raises(BundleError) as caught:
        load_bundle(bundle_copy)
    assert caught.value.field == "policies[3].pause"
