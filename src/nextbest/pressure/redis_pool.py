"""The connection pool of one Redis server, as the contact store wants it: short timeouts,
no retries, replies decoded, no CLIENT SETINFO."""

from __future__ import annotations

import inspect
from typing import Any

from redis.asyncio import BlockingConnectionPool
from redis.asyncio.connection import AbstractConnection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

__all__ = ["server_pool"]

_NO_CLIENT_SETINFO: dict[str, Any] = (
    {"driver_info": None}  # redis-py 8.1 deprecates the two below
    if "driver_info" in inspect.signature(AbstractConnection.__init__).parameters
    else {"lib_name": None, "lib_version": None}
)
"""Connect without CLIENT SETINFO: it doubled the CPU cost of a new connection."""


def server_pool(
    url: str, *, max_connections: int, timeout_s: float, **address: Any
) -> BlockingConnectionPool:
    """A pool for the server `url` names (or at `address`, with `url`'s credentials and
    settings) that never waits longer than `timeout_s` for a socket operation or for a
    free connection out of its `max_connections`; settings in the URL's query win."""
    options: dict[str, Any] = {
        "max_connections": max_connections,
        "timeout": timeout_s,
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 0),
        "decode_responses": True,
        **_NO_CLIENT_SETINFO,
        **parse_url(url),
        **address,
    }
    return BlockingConnectionPool(**options)
