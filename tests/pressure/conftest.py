"""Every contact-pressure behaviour test runs on both stores."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nextbest.pressure import ContactStore, MemoryContactStore
from nextbest.pressure.redis import RedisContactStore
from redis_server import RedisServer

StoreFactory = Callable[[], ContactStore]


@pytest.fixture(params=["memory", "redis"])
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    """Makes a fresh store of one kind; the Redis ones share one emptied redis-server."""
    if request.param == "memory":
        return MemoryContactStore
    server: RedisServer = request.getfixturevalue("redis_server")
    return lambda: RedisContactStore.from_url(server.url, timeout_s=2.0)


@pytest.fixture
def contact_store(store_factory: StoreFactory) -> ContactStore:
    return store_factory()
