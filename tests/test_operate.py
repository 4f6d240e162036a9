"""Operating real server processes: hot reload under traffic, clean SIGTERM, scale-out."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from _servers import RunningServer

from helpers import DEMO_BUNDLE, StartServer, decision_request, until
from nextbest.bundle import seal_bundle
from redis_server import RedisServer

TOKEN = "operate-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
pytestmark = pytest.mark.slow


def _variant(root: Path, name: str, version: str, suffix: str) -> Path:
    """A copy of the demo bundle with its own version and offer names ending in `suffix`."""
    target = root / name
    shutil.copytree(DEMO_BUNDLE, target)
    meta = yaml.safe_load((target / "bundle.yaml").read_text())
    meta["version"] = version
    (target / "bundle.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    offers = yaml.safe_load((target / "offers.yaml").read_text())
    for offer in offers["offers"]:
        offer["name"] += suffix
    (target / "offers.yaml").write_text(yaml.safe_dump(offers, sort_keys=False))
    seal_bundle(target)
    return target


def _start(start_server: StartServer, bundle: Path, **env: str) -> RunningServer:
    return start_server(
        "--bundle",
        str(bundle),
        env={"NEXTBEST_ADMIN_TOKEN": TOKEN, "NEXTBEST_LOG_LEVEL": "warning", **env},
    )


async def _decisions(
    base: str, stop: asyncio.Event, answers: list[tuple[int, dict[str, Any]]]
) -> None:
    body = decision_request(customer_id="C-reload", channel="web", stage="loyal", clv=900.0)
    async with httpx.AsyncClient(timeout=10) as client:
        while not stop.is_set():
            response = await client.post(f"{base}/v1/decisions", json=body)
            answers.append((response.status_code, response.json()))


async def _reload_under_traffic(base: str, bundles: list[Path]) -> list[Any]:
    stop = asyncio.Event()
    answers: list[tuple[int, dict[str, Any]]] = []
    streams = [asyncio.create_task(_decisions(base, stop, answers)) for _ in range(6)]
    reloads = []
    async with httpx.AsyncClient(timeout=30) as admin:
        for bundle in itertools.islice(itertools.cycle(bundles), 9):
            response = await admin.post(
                f"{base}/admin/bundle/reload", headers=AUTH, json={"path": str(bundle)}
            )
            reloads.append((bundle.name, response.status_code, response.json()))
            wanted = len(answers) + 12
            await until(lambda n=wanted: len(answers) >= n, "decisions after a reload")
    stop.set()
    await asyncio.gather(*streams)
    return [answers, reloads]


def test_reloading_good_and_bad_bundles_under_traffic_fails_no_request(
    tmp_path: Path, start_server: StartServer
) -> None:
    one = _variant(tmp_path, "one", "2026.1.0", " ·1")
    two = _variant(tmp_path, "two", "2026.2.0", " ·2")
    bad = _variant(tmp_path, "bad", "2026.3.0", " ·3")
    rules = yaml.safe_load((bad / "rules.yaml").read_text())
    rules["rules"][0]["when"] = "context.channel == "
    (bad / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    seal_bundle(bad)

    server = _start(start_server, one)
    try:
        answers, reloads = asyncio.run(_reload_under_traffic(server.base, [two, bad, one]))
    finally:
        assert server.stop() == 0

    assert len(answers) > 100
    assert {status for status, _ in answers} == {200}
    suffix = {"2026.1.0": " ·1", "2026.2.0": " ·2"}
    versions = set()
    for _, answer in answers:
        versions.add(answer["bundle_version"])
        expected = suffix[answer["bundle_version"]]
        assert all(o["name"].endswith(expected) for o in answer["offers"]), answer
    assert versions == {"2026.1.0", "2026.2.0"}
    for name, status, body in reloads:
        if name == "bad":
            assert (status, body["result"]) == (422, "refused")
            assert body["problems"][0]["file"] == "rules.yaml"
        else:
            assert (status, body["result"]) == (200, "loaded")


def test_sigterm_finishes_requests_in_flight_and_exits_zero(
    redis_server: RedisServer, start_server: StartServer
) -> None:
    server = _start(
        start_server,
        DEMO_BUNDLE,
        NEXTBEST_REDIS_URL=redis_server.url,
        NEXTBEST_REDIS_BUDGET_MS="1000",
        NEXTBEST_QUEUE_DEADLINE_MS="30000",  # those waiting for their turn are in flight too
        NEXTBEST_LOG_LEVEL="info",
    )
    body = decision_request(customer_id="C-term", channel="web", stage="loyal", clv=900.0)

    async def in_flight() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=10) as client:
            with redis_server.client() as redis:
                redis.client_pause(600)  # decisions now wait on the store for ~0.6 s
            requests = [
                asyncio.create_task(client.post(f"{server.base}/v1/decisions", json=body))
                for _ in range(20)
            ]
            await asyncio.sleep(0.3)
            server.process.send_signal(signal.SIGTERM)
            return await asyncio.gather(*requests)

    started = time.monotonic()
    responses = asyncio.run(in_flight())
    assert server.process.wait(timeout=30) == 0
    assert time.monotonic() - started < 10
    assert [r.status_code for r in responses] == [200] * 20
    assert all(r.json()["degraded"] == [] for r in responses)
    assert server.events()[-1]["event"] == "contact_store_closed"
    with redis_server.client() as redis:
        names = [c["name"] for c in redis.client_list()]
    assert len(names) == 1  # only this test's own connection is left


def test_replicas_on_one_redis_converge_after_a_reload_on_each(
    redis_server: RedisServer, tmp_path: Path, start_server: StartServer
) -> None:
    one = _variant(tmp_path, "one", "2026.1.0", "")
    two = _variant(tmp_path, "two", "2026.2.0", "")
    servers = [_start(start_server, one, NEXTBEST_REDIS_URL=redis_server.url) for _ in range(3)]
    replicas = [server.base for server in servers]
    try:
        with httpx.Client(timeout=30) as client:
            for base in replicas:
                reload = client.post(
                    f"{base}/admin/bundle/reload", headers=AUTH, json={"path": str(two)}
                )
                assert reload.status_code == 200, reload.text
            versions = {client.get(f"{base}/v1/bundle").json()["version"] for base in replicas}
            ready = [client.get(f"{base}/health/ready").json() for base in replicas]
    finally:
        codes = [server.stop() for server in servers]
    assert versions == {"2026.2.0"}
    assert all(r["contact_store"] == "ok" for r in ready)
    assert codes == [0, 0, 0]
