from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from _servers import RunningServer, ServerError, start_nextbest
from hypothesis import settings
from litestar.testing import TestClient

from helpers import DEMO_BUNDLE, EditYaml, StartServer
from nextbest.api.app import create_app
from nextbest.bundle import Bundle, load_bundle, seal_bundle
from nextbest.decide import Decider
from redis_server import RedisClusterNodes, RedisServer

# The machines are shared and noisy: a Hypothesis example is never failed for its time.
settings.register_profile("shared-machine", deadline=None)
settings.load_profile("shared-machine")


@pytest.fixture(scope="session", autouse=True)
def _working_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Apps and servers the tests start write their history (`./history` by default)
    into a directory of the session's, not into the checkout."""
    previous = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    try:
        yield
    finally:
        os.chdir(previous)


@pytest.fixture(scope="session")
def demo_bundle() -> Bundle:
    return load_bundle(DEMO_BUNDLE)


@pytest.fixture(scope="session")
def decider(demo_bundle: Bundle) -> Decider:
    return Decider(demo_bundle)


@pytest.fixture(scope="session")
def client(decider: Decider) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(decider)) as test_client:
        yield test_client


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    """A writable copy of the demo bundle."""
    target = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE, target)
    return target


@pytest.fixture
def edit_yaml(bundle_copy: Path) -> EditYaml:
    """Change one YAML file of the bundle copy and re-seal it, as a bundle author would."""

    def edit(name: str, change: Callable[[Any], Any]) -> None:
        path = bundle_copy / name
        data = yaml.safe_load(path.read_text())
        result = change(data)
        path.write_text(yaml.safe_dump(data if result is None else result, sort_keys=False))
        seal_bundle(bundle_copy)

    return edit


@pytest.fixture(scope="session")
def redis_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(redis_session: RedisServer) -> RedisServer:
    """The session's redis-server, running and empty."""
    if not redis_session.running:
        redis_session.start()
    redis_session.flush()
    return redis_session


@pytest.fixture(scope="session")
def redis_cluster_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    """Three primaries and three replicas (appendfsync always), started once a session."""
    cluster = RedisClusterNodes(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def redis_cluster(redis_cluster_session: RedisClusterNodes) -> RedisClusterNodes:
    """The session's Redis Cluster, every node running, state ok, empty."""
    redis_cluster_session.wait_ok()
    redis_cluster_session.flush()
    return redis_cluster_session


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Starts `nextbest serve` processes (`start_server(*args, env=..., workers=...)`),
    ready to answer unless `ready=False`; every one still running is stopped (SIGTERM) at
    the end of the test. Each logs JSON lines to its own file: `server.events()`."""
    started: list[RunningServer] = []

    def start(
        *args: str,
        env: dict[str, str] | None = None,
        workers: int = 1,
        ready: bool = True,
    ) -> RunningServer:
        server = start_nextbest(log_dir=tmp_path, args=args, env=env, workers=workers)
        started.append(server)
        if ready:
            try:
                server.wait_ready(timeout=60)
            except ServerError as exc:
                pytest.fail(str(exc))
        return server

    yield start
    for server in started:
        server.stop()
