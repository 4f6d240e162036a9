"""A real redis-server (or a Redis Cluster of six) on free loopback ports, owned by the test
session: the one implementation in loadtests/_servers.py, which the benchmarks use too."""

from _servers import RedisClusterNodes, RedisServer

__all__ = ["RedisClusterNodes", "RedisServer"]
