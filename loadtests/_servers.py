"""The processes the benchmarks and the test suite start and own: a redis-server and a
nextbest server. One implementation for both (tests/ imports this module; this module
imports nothing from tests/).

Both listen on a free loopback port and are stopped, by their own process id, on the way
out. A server's output goes to a file (a pipe nobody reads fills up and blocks it).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

__all__ = [
    "RedisClusterNodes",
    "RedisServer",
    "RunningServer",
    "ServerError",
    "free_port",
    "nextbest_server",
    "redis_server",
    "start_nextbest",
]

_SERVERS = ("uvicorn", "granian")


class ServerError(RuntimeError):
    """A server process did not start, or did not become ready; names its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """SIGTERM, then SIGKILL after `timeout` s; the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.send_signal(signal.SIGCONT)  # a paused process takes the SIGTERM now
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.returncode


def _pause(process: subprocess.Popen[bytes]) -> None:
    """SIGSTOP; returns once the process has stopped (where /proc tells)."""
    process.send_signal(signal.SIGSTOP)
    stat = Path(f"/proc/{process.pid}/stat")
    deadline = time.monotonic() + 5
    while stat.exists() and stat.read_text().rpartition(")")[2].split()[0] != "T":
        if time.monotonic() > deadline:
            raise ServerError(f"process {process.pid} did not stop")
        time.sleep(0.001)


def _redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    return binary


class RedisServer:
    """A redis-server on a free loopback port, without persistence (with `replica_of`, a
    replica of the one on that port). `stop()` and `start()` again on the same port
    simulate an outage."""

    def __init__(self, workdir: Path, *, replica_of: int | None = None) -> None:
        self._binary = _redis_binary()
        self._workdir = workdir
        self._replica_of = replica_of
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                self._binary,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self._workdir),
                *(
                    ("--replicaof", "127.0.0.1", str(self._replica_of))
                    if self._replica_of is not None
                    else ()
                ),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        with redis.Redis(port=self.port, socket_timeout=0.5) as client:
            while True:
                try:
                    client.ping()
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self._process.poll() is not None:
                        raise
                    time.sleep(0.02)
                else:
                    return

    def stop(self) -> None:
        if self._process is not None:
            _stop(self._process, timeout=10)
            self._process = None

    def pause(self) -> None:
        """SIGSTOP: the server reads and answers nothing until it is stopped (SIGKILL)."""
        if self._process is not None:
            _pause(self._process)

    @property
    def running(self) -> bool:
        return self._process is not None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)

    def flush(self) -> None:
        with self.client() as client:
            client.flushall()
            client.config_resetstat()


def _cluster_ports(count: int) -> list[int]:
    """`count` free loopback ports below 55536 whose cluster bus ports (+10000) are free too."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port >= 55536 or port in ports:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


class RedisClusterNodes:
    """A Redis Cluster on loopback: `primaries` primaries with one replica each, every node a
    redis-server with `appendonly yes`, `appendfsync always` and
    `cluster-require-full-coverage no` in a directory of its own
    under `workdir`, joined by `redis-cli --cluster create`. Nodes are started and stopped
    by their process id; `kill(port)` stops one with SIGKILL, `start(port)` brings it
    back with its data."""

    def __init__(self, workdir: Path, *, primaries: int = 3, node_timeout_ms: int = 1000) -> None:
        self._binary = _redis_binary()
        cli = shutil.which("redis-cli")
        if cli is None:
            raise SystemExit("redis-cli is not installed (Debian: apt-get install redis-tools)")
        self._cli = cli
        self._workdir = workdir
        self._node_timeout_ms = node_timeout_ms
        self.ports = _cluster_ports(2 * primaries)
        self.url = f"redis://127.0.0.1:{self.ports[0]}/0"
        self._processes: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, port: int | None = None) -> None:
        """Every node (and form the cluster), or the node on `port` again."""
        for each in [port] if port is not None else self.ports:
            node_dir = self._workdir / str(each)
            node_dir.mkdir(exist_ok=True)
            self._processes[each] = subprocess.Popen(
                [
                    self._binary,
                    "--bind", "127.0.0.1",
                    "--port", str(each),
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", str(self._node_timeout_ms),
                    # the other primaries go on serving while a dead one's replica takes over
                    "--cluster-require-full-coverage", "no",
                    "--appendonly", "yes",
                    "--appendfsync", "always",
                    # a replica (re)joining syncs at once, not 5 s later
                    "--repl-diskless-sync-delay", "0",
                    "--save", "",
                    "--dir", str(node_dir),
                    "--logfile", str(node_dir / "redis.log"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        for each in [port] if port is not None else self.ports:
            self._wait(lambda client: bool(client.ping()), each)
        if port is None:
            subprocess.run(
                [
                    self._cli, "--cluster", "create",
                    *(f"127.0.0.1:{p}" for p in self.ports),
                    "--cluster-replicas", "1", "--cluster-yes",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            self.wait_ok()

    def _wait(self, ready: Any, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with redis.Redis(port=port, socket_timeout=0.5, decode_responses=True) as client:
            while True:
                try:
                    if ready(client):
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline:
                    raise ServerError(f"cluster node {port} not ready within {timeout:.0f} s")
                time.sleep(0.02)

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every running node reports `cluster_state:ok`, every replica is in sync
        with its primary (a replica that never synced cannot take over) and no node is
        rewriting its append-only file (a replica rewrites it after a full sync; until
        the rewrite is done, what it appends is in a file it would not load after a
        crash)."""

        def ok(client: redis.Redis) -> bool:
            if "cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
                return False
            replication = client.info("replication")
            if replication["role"] != "master" and replication["master_link_status"] != "up":
                return False
            persistence = client.info("persistence")
            return not (
                persistence["aof_rewrite_in_progress"] or persistence["aof_rewrite_scheduled"]
            )

        for port in self.running:
            self._wait(ok, port, timeout)

    @property
    def running(self) -> list[int]:
        return [p for p, process in self._processes.items() if process.poll() is None]

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, decode_responses=True)

    def primaries(self) -> list[int]:
        """The ports of the running primaries, as the running nodes see them."""
        found = set()
        for port in self.running:
            with self.client(port) as client:
                role = client.execute_command("ROLE")
                if role[0] == "master":
                    found.add(port)
        return sorted(found)

    def replica_of(self, primary: int) -> int:
        for port in self.running:
            with self.client(port) as client:
                role = client.execute_command("ROLE")
                if role[0] == "slave" and int(role[2]) == primary:
                    return port
        raise ServerError(f"no running replica of {primary}")

    def pause(self, port: int) -> None:
        """Stop the node on `port` with SIGSTOP: it reads nothing (what is sent to it waits
        in its socket buffers) and answers nothing, until it is killed. Returns once it
        has stopped (where /proc tells)."""
        _pause(self._processes[port])

    def node_id(self, port: int) -> str:
        with self.client(port) as client:
            node_id: str = client.execute_command("CLUSTER", "MYID")
            return node_id

    def kill(self, port: int) -> None:
        process = self._processes.pop(port)
        process.kill()
        process.wait(timeout=10)

    def flush(self) -> None:
        """Empty every primary, and return once each one's replicas have acknowledged it
        (a replica that rejoined a moment ago may be in sync and not acknowledge yet)."""
        for port in self.primaries():
            with self.client(port) as client:
                client.flushall()
                replicas = client.info("replication")["connected_slaves"]
                client.execute_command("WAIT", replicas, 10_000)

    def stop(self) -> None:
        for process in self._processes.values():
            _stop(process, timeout=10)
        self._processes.clear()


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server on a free loopback port (no persistence); its URL."""
    with tempfile.TemporaryDirectory(prefix="nextbest-redis-") as workdir:
        server = RedisServer(Path(workdir))
        server.start()
        try:
            yield server.url
        finally:
            server.stop()


@dataclass(frozen=True)
class RunningServer:
    """A server process started by `start_nextbest` (ready once `nextbest_server` yields it)."""

    base: str
    """e.g. http://127.0.0.1:39211"""
    host: str
    port: int
    pid: int
    log: Path
    """Its stdout and stderr (JSON lines, unless the settings say otherwise)."""
    process: subprocess.Popen[bytes]

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (a clean shutdown), SIGKILL after `timeout` s; the exit status."""
        return _stop(self.process, timeout)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until `GET /health/ready` answers 200; ServerError if the process exits first or
        the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"the server exited early (status {self.process.returncode}): "
                    f"{self.output()[-3000:] or '(no output)'}"
                )
            try:
                with urllib.request.urlopen(f"{self.base}/health/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
        raise ServerError(f"the server did not become ready within {timeout:.0f} s; see {self.log}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far, decoded."""
        return [json.loads(line) for line in self.output().splitlines() if line.startswith("{")]


def _command(server: str, port: int, workers: int, args: Sequence[str]) -> list[str]:
    if server == "uvicorn":  # the port and the workers come from the environment
        return [sys.executable, "-m", "nextbest.cli", "serve", *args]
    # granian has no place in `nextbest serve`; it runs the same app factory with the
    # settings of server.py (uvloop, no access log) so that the two can be compared.
    binary = Path(sys.executable).with_name("granian")
    if not binary.exists():
        raise SystemExit(f"granian is not installed: {sys.executable} -m pip install granian")
    return [
        str(binary),
        "--interface", "asgi",
        "--http", "1",
        "--factory",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", str(workers),
        "--loop", "uvloop",
        "--no-access-log",
        "--log-level", "warning",
        "nextbest.api.app:create_app_from_env",
        *args,
    ]  # fmt: skip


def start_nextbest(
    *,
    log_dir: Path,
    workers: int = 1,
    server: str = "uvicorn",
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    port: int | None = None,
) -> RunningServer:
    """`nextbest serve` (or granian on the same app factory) in a child process on a free
    loopback port, its output in a file in `log_dir`; not waited for. `args` go to the
    command line, `env` (`NEXTBEST_*` settings) over this process's environment."""
    if server not in _SERVERS:
        raise ValueError(f"unknown server {server!r}; one of {', '.join(_SERVERS)}")
    port = port or free_port()
    environment = {
        **os.environ,
        "NEXTBEST_PORT": str(port),
        "NEXTBEST_WORKERS": str(workers),
        "NEXTBEST_LOG_FORMAT": "json",
        # the history a server writes goes with its log, not into the working directory
        "NEXTBEST_HISTORY_DIR": str(log_dir / f"history-{port}"),
        **(env or {}),
    }
    if server == "granian" and workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in environment:
        metrics_dir = log_dir / f"metrics-{port}"
        metrics_dir.mkdir()
        environment["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    log = log_dir / f"server-{server}-w{workers}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _command(server, port, workers, args), stdout=out, stderr=out, env=environment
        )
    base = f"http://127.0.0.1:{port}"
    return RunningServer(
        base=base, host="127.0.0.1", port=port, pid=process.pid, log=log, process=process
    )


@contextlib.contextmanager
def nextbest_server(
    *,
    log_dir: Path,
    workers: int = 1,
    server: str = "uvicorn",
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 60.0,
) -> Iterator[RunningServer]:
    """A server as `start_nextbest` starts it, ready to answer; stopped with SIGTERM on
    the way out (whoever needs the exit status calls `stop()` first)."""
    running = start_nextbest(log_dir=log_dir, workers=workers, server=server, args=args, env=env)
    try:
        running.wait_ready(ready_timeout)
        yield running
    finally:
        running.stop()
