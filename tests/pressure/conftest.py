"""Every contact-pressure behaviour test runs on each store: embedded, one Redis, a Redis
Cluster."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nextbest.pressure import ContactStore, MemoryContactStore
from nextbest.pressure.redis import RedisContactStore
from redis_server import RedisClusterNodes, RedisServer

StoreFactory = Callable[[], ContactStore]


@pytest.fixture(params=["memory", "redis", "cluster"])
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    """Makes a fresh store of one kind; the Redis ones share one emptied redis-server, the
    cluster ones one emptied Redis Cluster."""
    if request.param == "memory":
        return MemoryContactStore
    if request.param == "cluster":
        cluster: RedisClusterNodes = request.getfixturevalue("redis_cluster")
        return lambda: RedisContactStore.from_url(
            cluster.url, timeout_s=2.0, warm_connections=2, cluster=True
        )
    server: RedisServer = request.getfixturevalue("redis_server")
    return lambda: RedisContactStore.from_url(server.url, timeout_s=2.0)


@pytest.fixture
def contact_store(store_factory: StoreFactory) -> ContactStore:
    return store_factory()
