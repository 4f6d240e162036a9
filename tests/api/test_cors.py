"""CORS from NEXTBEST_CORS_ORIGINS: preflight and actual requests from a browser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from helpers import decision_request
from nextbest.api.app import create_app
from nextbest.config import Settings, SettingsError
from nextbest.decide import Decider

SHOP = "https://shop.example.com"
DESK = "http://desk.example.com:8080"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, x-request-id",
}


@pytest.fixture(scope="module")
def browser_client(decider: Decider) -> Iterator[TestClient[Any]]:
    settings = Settings.from_env({"NEXTBEST_CORS_ORIGINS": f"{SHOP}, {DESK}"})
    with TestClient(create_app(decider, settings)) as client:
        yield client


@pytest.mark.parametrize("origin", [SHOP, DESK])
def test_a_preflight_from_an_allowed_origin_is_allowed(
    browser_client: TestClient[Any], origin: str
) -> None:
    response = browser_client.options("/v1/decisions", headers={"Origin": origin, **PREFLIGHT})
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == origin
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "content-type" in allowed
    assert "x-request-id" in allowed
    assert int(response.headers["access-control-max-age"]) > 0


def test_a_preflight_from_another_origin_is_refused(browser_client: TestClient[Any]) -> None:
    response = browser_client.options(
        "/v1/decisions", headers={"Origin": "https://evil.example.com", **PREFLIGHT}
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_an_actual_request_from_an_allowed_origin_may_be_read(
    browser_client: TestClient[Any],
) -> None:
    response = browser_client.post(
        "/v1/decisions", json=decision_request(), headers={"Origin": SHOP}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed


def test_an_error_answer_carries_the_cors_headers_too(browser_client: TestClient[Any]) -> None:
    response = browser_client.post("/v1/decisions", json={"customer": {}}, headers={"Origin": SHOP})
    assert response.status_code == 422
    assert response.headers["access-control-allow-origin"] == SHOP


def test_an_actual_request_from_another_origin_gets_no_allow_header(
    browser_client: TestClient[Any],
) -> None:
    response = browser_client.get("/v1/offers", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in response.headers


def test_without_the_setting_no_origin_is_allowed(client: TestClient[Any]) -> None:
    preflight = client.options("/v1/decisions", headers={"Origin": SHOP, **PREFLIGHT})
    assert "access-control-allow-origin" not in preflight.headers
    actual = client.post("/v1/decisions", json=decision_request(), headers={"Origin": SHOP})
    assert actual.status_code == 200
    assert "access-control-allow-origin" not in actual.headers


def test_any_origin_with_a_star(decider: Decider) -> None:
    settings = Settings.from_env({"NEXTBEST_CORS_ORIGINS": "*"})
    with TestClient(create_app(decider, settings)) as client:
        response = client.get("/v1/offers", headers={"Origin": "https://anywhere.example"})
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "value", ["shop.example.com", "ftp://shop.example.com", "https://a.example/path", "https://a b"]
)
def test_an_origin_that_is_not_one_is_a_settings_error(value: str) -> None:
    with pytest.raises(SettingsError, match="NEXTBEST_CORS_ORIGINS"):
        Settings.from_env({"NEXTBEST_CORS_ORIGINS": value})


@pytest.mark.parametrize(
    ("origins", "origin", "cookie"),
    [
        (f"{SHOP}, {DESK}", SHOP, False),
        (f"{SHOP}, {DESK}", "https://evil.example.com", False),
        ("*", SHOP, False),
        ("*", SHOP, True),
    ],
)
def test_a_decision_answered_from_asgi_carries_the_cors_headers_litestar_adds(
    decider: Decider, origins: str, origin: str, cookie: bool
) -> None:
    settings = Settings.from_env({"NEXTBEST_CORS_ORIGINS": origins})
    headers = {"Origin": origin, **({"Cookie": "session=1"} if cookie else {})}
    with TestClient(create_app(decider, settings)) as client:
        decision = client.post("/v1/decisions", json=decision_request(), headers=headers)
        refused = client.post("/v1/decisions", json={"customer": {}}, headers=headers)
        litestar = client.get("/v1/offers", headers=headers)
    assert decision.status_code == 200
    assert refused.status_code == 422  # answered by the typed route, through Litestar

    def cors_of(response: Any) -> dict[str, str]:
        return {k: v for k, v in response.headers.items() if k.startswith("access-control-")} | {
            "vary": response.headers.get("vary", "")
        }

    assert cors_of(decision) == cors_of(litestar) == cors_of(refused)
    assert ("access-control-allow-origin" in cors_of(decision)) == (
        origin != "https://evil.example.com"
    )
