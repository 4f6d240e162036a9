"""A real redis-server on a free loopback port, owned by the test session: the one
implementation in loadtests/_servers.py, which the benchmarks use too."""

from _servers import RedisServer

__all__ = ["RedisServer"]
