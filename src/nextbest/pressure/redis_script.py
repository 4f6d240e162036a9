"""Running the store's Lua scripts with as little client work as a call allows.

redis-py's command path (connection pool with its condition variable and telemetry,
retry wrapper, argument encoder, response callbacks) cost more CPU per decision than
the whole ranking. A decision needs none of it: one EVALSHA, one reply. So the runner
keeps its own idle connections: opened by the client's pool with its settings (address,
credentials, TLS, reply decoding), then driven without redis-py's stream layers
(`WireConnection`, redis_wire.py); it packs the command itself (hiredis's `pack_command`:
the same bytes as redis-py's, for a third of the CPU of packing them in Python) and
every send and read carries its deadline. It relies on redis-py's connection API
(`make_connection`, `connect`, `disconnect`) and on the transport under a connection's
streams, tested on the oldest redis-py that pyproject.toml allows. A connection that fails
or is interrupted (the call was cancelled) is closed, never reused: its reply may still
be on the way. One whose reply is late (the budget ran out) is kept: the reply is read
in the background.

Opening a connection costs CPU (about 0.5 ms, twice that with redis-py's CLIENT SETINFO,
which the store turns off) and a round trip: done inside a decision's budget on a busy
worker, it was enough to time the call out, close the connection, and open another on
the next call, every answer degraded. So `fill` opens `warm` connections at start-up,
and connections closed after a failure are replaced in the background, off the request
path; when more than `warm` are busy at once, a call that finds none idle has one opened
in the background and takes the first connection that comes free.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import deque
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from nextbest.pressure.redis_wire import Answer, LateReplyError, Reply, WireConnection
from nextbest.pressure.replica_wait import ReplicaWait

__all__ = [
    "LateReplyError",
    "LuaScript",
    "Reply",
    "Script",
    "ScriptRunner",
    "ScriptTarget",
    "ServerScripts",
]


class Script(Protocol):
    """A registered Lua script: its SHA-1 and its source."""

    @property
    def sha(self) -> str: ...
    @property
    def script(self) -> str | bytes | memoryview: ...


@dataclass(frozen=True, slots=True)
class LuaScript:
    """A script's source and its SHA-1, the name EVALSHA calls it by."""

    script: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "sha", hashlib.sha1(self.script.encode(), usedforsecurity=False).hexdigest()
        )


class ScriptTarget(Protocol):
    """Where the store's scripts run: one Redis server (`ServerScripts`), or the shard of
    a Redis Cluster that owns the keys' hash slot (`ClusterScripts`)."""

    def shard(self, key: str) -> str:
        """The name of the server that runs the scripts for `key` ("" for one server)."""
        ...

    async def run(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[str | int],
        *,
        budget_s: float | None = None,
        durable: bool = False,
    ) -> Reply:
        """EVALSHA on the server that owns `keys` (one hash slot): one round trip, within
        `budget_s` as `ScriptRunner.run` keeps it; `durable` (a call that records),
        acknowledged only once replicated when the target requires it (`ReplicaWait`)."""
        ...

    async def prepare(self, scripts: Sequence[Script]) -> None:
        """Load `scripts` and open the connections calls will use."""
        ...

    async def ping(self) -> None: ...

    async def aclose(self) -> None: ...


class ServerScripts:
    """ScriptTarget on one Redis server: a client and its ScriptRunner."""

    def __init__(
        self,
        client: Redis,
        *,
        max_connections: int = 64,
        warm: int = 16,
        wait_replicas: int = 0,
    ) -> None:
        self.client = client
        wait_s = client.connection_pool.connection_kwargs.get("socket_timeout") or 0.05
        self.replicas = ReplicaWait(client, wait_replicas) if wait_replicas else None
        self.runner = ScriptRunner(
            client,
            max_connections=max_connections,
            wait_s=wait_s,
            warm=warm,
            replica_wait=self.replicas,
        )

    def shard(self, key: str) -> str:  # noqa: ARG002 (one server holds every key)
        return ""

    async def run(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[str | int],
        *,
        budget_s: float | None = None,
        durable: bool = False,
    ) -> Reply:
        return await self.runner.run(script, keys, args, budget_s=budget_s, durable=durable)

    async def prepare(self, scripts: Sequence[Script]) -> None:
        for script in scripts:
            await self.client.script_load(script.script)
        await self.runner.fill()
        if self.replicas is not None:
            await self.replicas.watch()

    async def ping(self) -> None:
        await self.client.ping()

    async def aclose(self) -> None:
        if self.replicas is not None:
            await self.replicas.aclose()
        await self.runner.aclose()
        await self.client.aclose()


class ScriptRunner:
    """EVALSHA for the scripts of one client, over at most `max_connections` connections
    of its own; a call waits up to `wait_s` for one when all are busy, and as long for
    its reply when it has no budget."""

    def __init__(
        self,
        client: Redis,
        *,
        max_connections: int,
        wait_s: float,
        warm: int = 0,
        replica_wait: ReplicaWait | None = None,
    ) -> None:
        self._client = client
        self._replica_wait = replica_wait
        self._max_connections = max_connections
        self._wait_s = wait_s
        self._warm = min(warm, max_connections)
        self._idle: list[WireConnection] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[WireConnection | None]] = deque()
        self._refill: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[None]] = set()

    @property
    def open_connections(self) -> int:
        return self._open

    async def fill(self) -> None:
        """Open connections until `warm` are open. Raises as `connect` does."""
        while self._open < self._warm:
            self._release(await self._connect())

    def _refill_later(self) -> None:
        """Replace closed connections in the background; gives up at the first failure
        (the server is down: the next call or the breaker's trial finds out)."""
        if self._warm == 0 or (self._refill is not None and not self._refill.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._refill = loop.create_task(self._quiet_fill())

    async def _quiet_fill(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.fill()

    async def run(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[str | int],
        *,
        asking: bool = False,
        budget_s: float | None = None,
        durable: bool = False,
    ) -> Reply:
        """The script's reply; loads the script first when the server does not know it.
        With `asking`, ASKING goes first in the same packet (a cluster slot being
        imported). With `budget_s` (else `wait_s`), the call has that long to get a
        connection and send the command, and from then on that long for the reply (twice
        the budget at most in all); then it takes a reply that has reached the worker by
        the time the worker gets to look, and otherwise raises LateReplyError (redis-py's
        TimeoutError).
        With `durable` and a `replica_wait`, WAIT follows in the same packet and too few
        replicas raise ReplicaWaitError. Raises redis-py's errors (and OSError) as they
        come."""
        if budget_s is None:
            budget_s = self._wait_s
        deadline = asyncio.get_running_loop().time() + budget_s
        connection = await self._acquire(deadline)
        wait = self._replica_wait if durable else None
        try:
            reply = await self._call(
                connection, script, keys, args, asking, deadline, budget_s, wait
            )
        except LateReplyError as late:
            self._read_late(connection, late.unread)
            raise
        except (asyncio.CancelledError, TimeoutError, RedisTimeoutError):
            # interrupted: the server may be fine
            self._discard(connection.connection, with_idle=False)
            raise
        except BaseException:
            self._discard(connection.connection)
            raise
        self._release(connection)
        if isinstance(reply, RedisError):
            raise reply
        return reply

    @staticmethod
    async def _call(
        connection: WireConnection,
        script: Script,
        keys: Sequence[str],
        args: Sequence[str | int],
        asking: bool,
        deadline: float,
        budget_s: float,
        wait: ReplicaWait | None = None,
    ) -> Reply | RedisError:
        """The reply, or the error the server answered with (or ReplicaWaitError): the
        connection is then still in step (every reply read) and may be reused. Sending
        must be done by `deadline`; the replies have `budget_s` from the send. Raises
        LateReplyError when they do not come in time."""
        command = _resp(("EVALSHA", script.sha, len(keys), *keys, *args))
        required = wait.required if wait is not None else 0
        then_wait = _resp(wait.command(required, budget_s)) if wait and required else b""
        packet = (_ASKING if asking else b"") + command + then_wait
        count = asking + 1 + bool(then_wait)
        replies = await connection.exchange(packet, count, deadline, budget_s)
        if asking:
            _expect_ok(replies[0])
        if isinstance(replies[asking], NoScriptError):  # a restarted or newly promoted server
            source = script.script
            load = _resp(
                ("SCRIPT", "LOAD", bytes(source) if isinstance(source, memoryview) else source)
            )
            send_by = asyncio.get_running_loop().time() + budget_s
            loaded, *replies = await connection.exchange(
                load + packet, 1 + count, send_by, budget_s
            )
            if isinstance(loaded, RedisError):
                raise loaded
            if asking:
                _expect_ok(replies[0])
        reply = _answer(replies[asking])
        if not then_wait or isinstance(reply, ResponseError):
            return reply
        return ReplicaWait.check(_answer(replies[-1]), required) or reply

    async def _acquire(self, deadline: float | None = None) -> WireConnection:
        """An idle connection, else the first one handed over (by a call that finished,
        or opened in the background for this call); not after `deadline`. A call never
        opens a connection on its own time: on a busy worker that takes several turns
        of the loop, longer than the budget, and a connection given up half-open was
        CPU spent for nothing (the next call opened another, and timed out in turn)."""
        while True:
            if self._idle:
                return self._idle.pop()
            if self._open < self._max_connections:
                self._open_in_background()
            connection = await self._wait(deadline)
            if connection is not None:
                return connection

    async def _connect(self) -> WireConnection:
        return await self._connected(self._new_connection())

    def _new_connection(self) -> AbstractConnection:
        connection: AbstractConnection = self._client.connection_pool.make_connection()  # type: ignore[no-untyped-call]
        self._open += 1
        return connection

    async def _connected(self, connection: AbstractConnection) -> WireConnection:
        try:
            await connection.connect()  # type: ignore[no-untyped-call]
            return WireConnection(connection)
        except BaseException:
            # only this one: a connect that timed out on a busy machine says nothing of
            # the idle connections (a dead server is found out by the next call on one)
            self._discard(connection, with_idle=False)
            raise

    def _open_in_background(self) -> None:
        """Open one more connection (counted at once) and hand it to the first waiting
        call, or keep it idle; when it cannot be opened, a waiting call fails with why."""
        connecting = self._connected(self._new_connection())
        task = asyncio.get_running_loop().create_task(self._hand_over(connecting))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _hand_over(self, connecting: Awaitable[WireConnection]) -> None:
        try:
            connection = await connecting
        except (RedisError, OSError) as exc:
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(ConnectionError(f"{type(exc).__name__}: {exc}"))
                    return
            return
        self._release(connection)

    async def _wait(self, deadline: float | None) -> WireConnection | None:
        """A connection handed over, or None when one was closed (so that a new one may
        be opened); waits `wait_s` at most, and not past `deadline`."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[WireConnection | None] = loop.create_future()
        self._waiters.append(waiter)
        wait_s = self._wait_s if deadline is None else min(self._wait_s, deadline - loop.time())
        try:
            async with asyncio.timeout(max(wait_s, 0.0)):
                return await waiter
        except TimeoutError:
            raise ConnectionError(
                f"no connection free within {max(wait_s, 0.0) * 1000:.0f} ms "
                f"({self._open} open, at most {self._max_connections})"
            ) from None
        except BaseException:
            handed = waiter.result() if waiter.done() and not waiter.cancelled() else None
            if handed is not None:
                self._release(handed)  # handed over just as this call gave up
            raise

    def _read_late(self, connection: WireConnection, unread: int) -> None:
        """Read the `unread` replies still due on `connection` in the background, then
        give it to the next call; close it if they do not come within `wait_s`. Closing
        it at once, as after other interruptions, made every late reply of a burst cost a
        new connection (CPU on the busy worker and on Redis)."""
        task = asyncio.get_running_loop().create_task(self._drain(connection, unread))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _drain(self, connection: WireConnection, unread: int) -> None:
        try:
            read = await self._read_all(connection, unread)
        except (RedisError, OSError):
            read = False
        except BaseException:
            self._discard(connection.connection, with_idle=False)
            raise
        if read:
            self._release(connection)
        else:
            self._discard(connection.connection, with_idle=False)

    async def _read_all(self, connection: WireConnection, unread: int) -> bool:
        """Whether the `unread` replies came within `wait_s` each (errors count)."""
        loop = asyncio.get_running_loop()
        for _ in range(unread):
            try:
                await connection.receive(1, loop.time() + self._wait_s)
            except LateReplyError:
                return False
        return True

    def _release(self, connection: WireConnection) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    def _discard(self, connection: AbstractConnection, *, with_idle: bool = True) -> None:
        """Close a connection that failed, and (`with_idle`) the idle ones with it: when
        the server restarts or the network drops, they are all dead, and finding that out
        one call at a time would take as many failed calls (and circuit-breaker trials).
        A call interrupted by its budget closes its own connection only: under a burst,
        closing them all made every following call open one within its budget."""
        closing = (
            [connection, *(idle.connection for idle in self._idle)] if with_idle else [connection]
        )
        if with_idle:
            self._idle.clear()
        self._open -= len(closing)
        for dead in closing:
            # in a task of its own: this may run while the call is being cancelled
            task = asyncio.get_running_loop().create_task(dead.disconnect(nowait=True))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        woken = 0
        while self._waiters and woken < len(closing):
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # it may open a connection now
                woken += 1
        self._refill_later()

    async def aclose(self) -> None:
        self._warm = 0
        if self._refill is not None:
            self._refill.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refill
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        idle, self._idle = self._idle, []
        self._open -= len(idle)
        for connection in idle:
            await connection.disconnect()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


_ASKING = b"*1\r\n$6\r\nASKING\r\n"


def _resp(parts: tuple[str | int | bytes, ...]) -> bytes:
    """A command as RESP (an array of bulk strings; text as UTF-8, integers in decimal)."""
    packed: bytes = hiredis.pack_command(parts)  # type: ignore[arg-type]  # stub: a 1-tuple
    return packed


def _answer(answer: Answer) -> Reply | ResponseError:
    """A reply, or an error the server answered with (a ResponseError); other errors (the
    server refusing the connection) are raised."""
    if isinstance(answer, RedisError) and not isinstance(answer, ResponseError):
        raise answer
    return answer


def _expect_ok(answer: Answer) -> None:
    """A reply that must not be an error: when it is, the replies after it are not what
    was asked for, so the error is not a server's answer but a broken exchange."""
    if isinstance(answer, RedisError):
        raise RedisConnectionError(f"unexpected reply: {answer}") from answer
