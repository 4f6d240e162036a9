"""The script connections past redis-py's handshake (redis_wire.py): replies put together
from any split of the bytes, error replies that leave a connection in step, a connection
the server closes, and the URL's settings, all on a real redis-server."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
import uvloop
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from helpers import free_port
from nextbest.pressure import StoreUnavailableError
from nextbest.pressure.redis import RedisContactStore
from nextbest.pressure.redis_pool import server_pool
from nextbest.pressure.redis_script import LuaScript, ServerScripts, _resp
from nextbest.pressure.redis_wire import WireConnection
from nextbest.pressure.types import Cap, CapCandidate
from redis_server import RedisServer

NOW = 1_800_000_000_000
DAY = 86_400_000
INCREMENT = LuaScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")


def _offers(*ids: str) -> list[CapCandidate]:
    return [CapCandidate(i, (Cap("three_a_week", 3, 7 * DAY),), (f"no_repeat:{i}",)) for i in ids]


def _scripts(url: str, **options: Any) -> ServerScripts:
    """One connection, so that every call after the first reuses it."""
    pool = server_pool(url, max_connections=1, timeout_s=2.0)
    return ServerScripts(Redis.from_pool(pool), max_connections=1, warm=1, **options)


def _script_clients(server: RedisServer) -> list[dict[str, Any]]:
    with server.client() as client:
        return [c for c in client.client_list() if c["cmd"] != "client|list"]


@contextlib.asynccontextmanager
async def _dribbling_proxy(port: int, piece: int) -> AsyncIterator[int]:
    """A port that forwards to `port`; what the server sends comes back `piece` bytes
    at a time, a millisecond apart (each in reads of its own at the client)."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, step: int) -> None:
        try:
            while data := await reader.read(65536):
                for start in range(0, len(data), step):
                    writer.write(data[start : start + step])
                    await writer.drain()
                    if step < len(data):
                        await asyncio.sleep(0.001)
        finally:
            writer.close()

    async def forward(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(
            pipe(client_reader, server_writer, 65536),
            pipe(server_reader, client_writer, piece),
            return_exceptions=True,
        )

    proxy = await asyncio.start_server(forward, "127.0.0.1", 0)
    try:
        yield proxy.sockets[0].getsockname()[1]
    finally:
        proxy.close()
        await proxy.wait_closed()


@pytest.mark.parametrize("piece", [1, 7])
def test_replies_split_across_reads_are_put_together(redis_server: RedisServer, piece: int) -> None:
    async def scenario() -> list[Any]:
        async with _dribbling_proxy(redis_server.port, piece) as port:
            store = RedisContactStore.from_url(
                f"redis://127.0.0.1:{port}/0", timeout_s=2.0, warm_connections=1
            )
            await store.prepare()
            first = await store.select("C-1", "d1", _offers("a", "b", "c", "d"), 3, NOW, True)
            second = await store.select("C-1", "d2", _offers("e", "f"), 3, NOW + 1, True)
            await store.aclose()
            await asyncio.sleep(0.05)  # the proxy's pipes see the connections close
        return [first.selected, second.selected, second.blocked]

    assert asyncio.run(scenario()) == [
        ("a", "b", "c"),
        (),
        {"e": "three_a_week", "f": "three_a_week"},
    ]


def test_error_replies_are_answers_in_their_place_among_good_ones(
    redis_server: RedisServer,
) -> None:
    """Typed as redis-py types them, in the order of the commands, and the connection
    stays in step."""

    async def scenario() -> list[Any]:
        client = Redis.from_pool(server_pool(redis_server.url, max_connections=1, timeout_s=2.0))
        connection = client.connection_pool.make_connection()
        await connection.connect()
        wire = WireConnection(connection)
        await client.set("text", "not a number")
        packet = b"".join(
            _resp(command)
            for command in [
                ("INCR", "n"),
                ("INCR", "text"),
                ("EVALSHA", "0" * 40, 0),
                ("INCR", "n"),
            ]
        )
        loop = asyncio.get_running_loop()
        replies = await wire.exchange(packet, 4, loop.time() + 1, 1.0)
        next_exchange = await wire.exchange(_resp(("INCR", "n")), 1, loop.time() + 1, 1.0)
        await wire.disconnect()
        await client.aclose()
        return [[type(reply).__name__ for reply in replies], replies[::3], next_exchange]

    assert asyncio.run(scenario()) == [
        ["int", "ResponseError", "NoScriptError", "int"],
        [1, 2],
        [3],
    ]


def test_a_script_error_leaves_the_runners_connection_for_the_next_calls(
    redis_server: RedisServer,
) -> None:
    """The script fails on a key of the wrong type: first in the packet that loads it
    (the server had forgotten it), after SCRIPT LOAD's reply, then on its own."""

    async def scenario() -> list[Any]:
        scripts = _scripts(redis_server.url)
        await scripts.prepare([INCREMENT])
        before = _script_clients(redis_server)
        with redis_server.client() as client:
            client.set("text", "not a number")
            client.script_flush()
        outcomes: list[Any] = []
        for key in ["text", "n", "text", "n"]:
            try:
                outcomes.append(await scripts.run(INCREMENT, [key], [2]))
            except ResponseError as exc:
                outcomes.append(type(exc).__name__)
        after = _script_clients(redis_server)
        await scripts.aclose()
        return [outcomes, [c["id"] for c in before] == [c["id"] for c in after]]

    outcomes, same_connection = asyncio.run(scenario())
    assert outcomes == ["ResponseError", 2, "ResponseError", 4]
    assert same_connection


def test_an_error_in_place_of_an_expected_ok_breaks_the_exchange(
    redis_server: RedisServer,
) -> None:
    """ASKING on a server that is not in a cluster answers an error: the script's reply
    after it is not an answer to trust, and the connection is closed (a new one serves
    the next call)."""

    async def scenario() -> list[Any]:
        scripts = _scripts(redis_server.url)
        await scripts.prepare([INCREMENT])
        with pytest.raises(RedisConnectionError, match="unexpected reply"):
            await scripts.runner.run(INCREMENT, ["n"], [1], asking=True)
        next_call = await scripts.run(INCREMENT, ["n"], [1])
        await scripts.aclose()
        return [next_call]

    assert asyncio.run(scenario()) == [2], "the script ran once with ASKING, once after"


def test_a_connection_the_server_closes_mid_call_fails_the_call_at_once(
    redis_server: RedisServer,
) -> None:
    """The call waits for a paused server; the server closes its connection: the call
    fails then, not when its budget runs out, and the next call gets a new connection."""

    async def scenario() -> list[Any]:
        store = RedisContactStore.from_url(redis_server.url, timeout_s=2.0, warm_connections=2)
        await store.prepare()
        loop = asyncio.get_running_loop()
        with redis_server.client() as client:
            client.client_pause(2000, all=False)  # scripts wait; CLIENT KILL does not
            call = asyncio.ensure_future(store.select("C-1", "d1", _offers("a"), 1, NOW, True))
            await asyncio.sleep(0.1)
            killed_at = loop.time()
            client.client_kill_filter(_type="normal", skipme=True)
            try:
                await call
                failure = "answered"
            except StoreUnavailableError as exc:
                failure = str(exc)
            waited = loop.time() - killed_at
            client.client_unpause()
        after = await store.select("C-2", "d2", _offers("b"), 1, NOW, True)
        await store.aclose()
        return [failure, waited < 0.5, after.selected]

    assert asyncio.run(scenario()) == [
        "redis: ConnectionError: Connection closed by server.",
        True,
        ("b",),
    ]


def test_a_send_the_socket_cannot_take_fails_when_its_budget_runs_out(
    redis_server: RedisServer,
) -> None:
    """A stopped server reads nothing: a packet larger than the socket buffers waits for
    them to drain until the call's budget runs out, then the call fails (its connection
    is given up); the others are not closed."""

    async def scenario() -> list[Any]:
        scripts = ServerScripts(
            Redis.from_pool(server_pool(redis_server.url, max_connections=2, timeout_s=2.0)),
            max_connections=2,
            warm=2,
        )
        await scripts.prepare([INCREMENT])
        redis_server.pause()
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await scripts.run(INCREMENT, ["n"], ["x" * 32_000_000], budget_s=0.2)
            failure = "answered"
        except TimeoutError as exc:
            failure = type(exc).__name__
        took = loop.time() - started
        open_after = scripts.runner.open_connections
        redis_server.stop()
        await scripts.aclose()
        return [failure, took < 1.0, open_after]

    try:
        assert asyncio.run(scenario()) == ["TimeoutError", True, 1]
    finally:
        redis_server.stop()


def test_the_urls_user_database_client_name_and_protocol_apply(
    redis_server: RedisServer,
) -> None:
    with redis_server.client() as client:
        client.acl_setuser(
            "nb-test", enabled=True, passwords=["+s3cret"], keys=["*"], commands=["+@all"]
        )
    url = (
        f"redis://nb-test:s3cret@127.0.0.1:{redis_server.port}/3?client_name=nb-scripts&protocol=3"
    )

    async def scenario() -> list[Any]:
        store = RedisContactStore.from_url(url, timeout_s=2.0, warm_connections=2)
        await store.prepare()
        first = await store.select("C-1", "d1", _offers("a", "b"), 3, NOW, True)
        again = await store.select("C-1", "d2", _offers("a"), 3, NOW + 1, True)
        named = [c for c in _script_clients(redis_server) if c["name"] == "nb-scripts"]
        await store.aclose()
        left = [c for c in _script_clients(redis_server) if c["name"] == "nb-scripts"]
        return [first.selected, again.selected, named, left]

    try:
        first, again, named, left = asyncio.run(scenario())
    finally:
        with redis_server.client() as client:
            client.acl_deluser("nb-test")
    assert (first, again) == (("a", "b"), ("a",))
    assert len(named) >= 2, "the script connections and the store's client"
    assert {(c["user"], c["db"], c["resp"]) for c in named} == {("nb-test", "3", "3")}
    assert left == [], "closed"
    with redis_server.client() as client:
        assert client.keys("nb:*") == []
    with redis.Redis(port=redis_server.port, db=3) as client:
        assert client.keys("nb:*") != []


@pytest.fixture(scope="module")
def tls_and_unix_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A redis-server of its own that speaks TLS on a loopback port and plain RESP on a
    unix socket (a self-signed certificate made with openssl); the two URLs."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: no certificate for the TLS server")
    workdir = tmp_path_factory.mktemp("redis-tls")
    cert, key, socket_path = workdir / "cert.pem", workdir / "key.pem", workdir / "redis.sock"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert),
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    process = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server",
         "--port", "0", "--bind", "127.0.0.1", "--tls-port", str(port),
         "--tls-cert-file", str(cert), "--tls-key-file", str(key),
         "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no",
         "--unixsocket", str(socket_path), "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists():
            assert process.poll() is None, "redis-server stopped"
            assert time.monotonic() < deadline, "redis-server did not open its socket"
            time.sleep(0.02)
        yield f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}", f"unix://{socket_path}?db=2"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("transport", ["tls", "unix"])
def test_script_connections_over_tls_and_a_unix_socket(
    tls_and_unix_redis: tuple[str, str], transport: str, loop: str
) -> None:
    url = tls_and_unix_redis[transport == "unix"]
    customer = f"C-{transport}-{loop}"

    async def scenario() -> list[Any]:
        store = RedisContactStore.from_url(url, timeout_s=2.0, warm_connections=2)
        await store.prepare()
        first = await store.select(customer, "d1", _offers("a", "b", "c", "d"), 3, NOW, True)
        second = await store.select(customer, "d2", _offers("e"), 3, NOW + 1, True)
        await store.aclose()
        return [first.selected, second.selected]

    outcome = uvloop.run(scenario()) if loop == "uvloop" else asyncio.run(scenario())
    assert outcome == [("a", "b", "c"), ()]
