"""The explorer's own data and files, without a browser (see test_explorer_browser.py)."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import TestClient


def test_the_page_and_its_assets_come_from_the_service(client: TestClient[Any]) -> None:
    page = client.get("/ui/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "https://" not in page.text
    assert "http://" not in page.text
    assets = re.findall(r"""(?:src|href)=["'](/[^"']+)["']""", page.text)
    assert len(assets) == 2
    for asset in assets:
        assert client.get(asset).status_code == 200


def test_the_page_data_is_the_serving_bundles(client: TestClient[Any]) -> None:
    data = client.get("/ui/bundle.json").json()
    assert data["channels"] == ["call_center", "web"]
    assert "complaint" in data["call_reasons"]
    assert data["customer_attributes"]["owned_products"] == "string_list"
    [rule] = [r for r in data["rules"] if r["id"] == "no_sales_on_complaint_or_cancellation"]
    assert rule["action"] == "drop"
    assert rule["when"] == 'context.call_reason in ["complaint", "contract_cancellation"]'
    [policy] = [p for p in data["policies"] if p["id"] == "sales_3_per_7_days"]
    assert "limit 3" in policy["terms"]
    assert "window 7d" in policy["terms"]


def test_the_page_is_not_in_the_api_document(client: TestClient[Any]) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/ui")]
