"""What each part of a decision costs, measured through the whole app without sockets.

    .venv/bin/python loadtests/bench_app.py [--decisions 12000] [--rounds 3]

The app is built as `nextbest serve` builds it (`create_app` on the environment's
settings) and driven through its ASGI entry point by `--concurrency` callers at once,
each sending bench_http.py's recorded decision requests one after another, on uvloop.
No HTTP parsing, no sockets to the client: what is left is the service's own work, and
the server's share of the floor is not in it.

Each configuration runs in a process of its own; the rounds alternate between them, and
the last table gives the median CPU time per decision (`time.process_time`, every thread
of the process) and what each part adds to the configuration before it:

- `embedded, no history, warning`: ranking, the embedded store, metrics, no log line;
- `redis`: the contact store on a redis-server of its own (one script call per decision
  that carries a capped offer);
- `+ history`: the interaction history written to files (`NEXTBEST_HISTORY_SINK=file`);
- `+ log line`: log level `info`, one JSON line per decision (to /dev/null).

A configuration's figure counts answered decisions only; the answers that were not a
decision (a 503) or that were degraded are counted beside it and should be 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import bench_http
from _servers import redis_server

from nextbest.bundle import load_bundle
from nextbest.config import default_bundle_path

_CONFIGS = {
    "embedded, no history, warning": {"store": "embedded", "history": "off", "level": "warning"},
    "redis": {"store": "redis", "history": "off", "level": "warning"},
    "+ history": {"store": "redis", "history": "file", "level": "warning"},
    "+ log line": {"store": "redis", "history": "file", "level": "info"},
}
_WARM_UP = 2000


@dataclass(frozen=True)
class Figures:
    cpu_us: float
    wall_us: float
    not_decided: int
    degraded: int


def _scope(body: bytes) -> dict[str, object]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/decisions",
        "raw_path": b"/v1/decisions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "state": {},
    }


async def _drive(decisions: int, concurrency: int, seed: int) -> Figures:
    """Runs in the measuring process: the app on this process's environment."""
    from nextbest.api.app import create_app
    from nextbest.config import Settings
    from nextbest.decide.decider import Decider
    from nextbest.logging import configure_logging

    settings = Settings.from_env()
    configure_logging("json", settings.log_level)
    bundle = load_bundle(settings.bundle)
    app = create_app(Decider(bundle), settings)
    templates = bench_http.decision_templates(bundle, bench_http._TEMPLATES, seed)
    run = os.getpid()
    bodies = [
        f"{before}BA{run}-{n}{after}".encode()
        for n, (before, after) in ((n, templates[n % len(templates)]) for n in range(decisions))
    ]

    lifespan: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    started = asyncio.Event()

    async def life_send(message: dict[str, str]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()
        elif message["type"].endswith(".failed"):
            raise SystemExit(f"the app did not start: {message}")

    await lifespan.put({"type": "lifespan.startup"})
    life = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, lifespan.get, life_send)
    )
    await started.wait()

    outcome = {"not_decided": 0, "degraded": 0}

    async def one(body: bytes) -> None:
        sent = False

        async def receive() -> dict[str, object]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never goes away
            return {}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start" and message["status"] != 200:
                outcome["not_decided"] += 1
            elif message["type"] == "http.response.body" and b'"degraded":["' in message.get(
                "body", b""
            ):
                outcome["degraded"] += 1

        await app(_scope(body), receive, send)

    async def caller(share: list[bytes]) -> None:
        for body in share:
            await one(body)

    async def all_of(batch: list[bytes]) -> None:
        await asyncio.gather(*(caller(batch[i::concurrency]) for i in range(concurrency)))

    await all_of(bodies[:_WARM_UP])
    outcome.update(not_decided=0, degraded=0)
    measured = bodies[_WARM_UP:]
    cpu, wall = time.process_time(), time.perf_counter()
    await all_of(measured)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await lifespan.put({"type": "lifespan.shutdown"})
    await life
    answered = max(1, len(measured) - outcome["not_decided"])
    return Figures(
        cpu * 1e6 / answered, wall * 1e6 / answered, outcome["not_decided"], outcome["degraded"]
    )


def _measure_here(args: argparse.Namespace) -> None:
    import uvloop

    figures = uvloop.run(_drive(args.decisions + _WARM_UP, args.concurrency, args.seed))
    print(json.dumps(figures.__dict__))


def _measure(name: str, args: argparse.Namespace, redis_url: str, work: Path) -> Figures:
    config = _CONFIGS[name]
    env = {
        **os.environ,
        "NEXTBEST_REDIS_URL": redis_url if config["store"] == "redis" else "",
        "NEXTBEST_HISTORY_SINK": config["history"],
        "NEXTBEST_HISTORY_DIR": str(work / "history"),
        "NEXTBEST_LOG_LEVEL": config["level"],
    }
    command = [
        sys.executable,
        __file__,
        "--child",
        f"--decisions={args.decisions}",
        f"--concurrency={args.concurrency}",
        f"--seed={args.seed}",
    ]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        raise SystemExit(f"{name}: the measuring process failed:\n{done.stderr[-3000:]}")
    return Figures(**json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--decisions", type=int, default=12_000, help="measured per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8, help="callers at once")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _measure_here(args)
        return

    load_bundle(default_bundle_path())  # a broken bundle stops here, not in every child
    results: dict[str, list[Figures]] = {name: [] for name in _CONFIGS}
    with redis_server() as redis_url, tempfile.TemporaryDirectory() as work:
        for round_ in range(args.rounds):
            for name in _CONFIGS:
                figures = _measure(name, args, redis_url, Path(work))
                results[name].append(figures)
                print(
                    f"round {round_ + 1} {name:<30} cpu {figures.cpu_us:6.1f} us/decision, "
                    f"wall {figures.wall_us:6.1f} us; not decided {figures.not_decided}, "
                    f"degraded {figures.degraded}",
                    flush=True,
                )
    print()
    print(
        f"the app in process, {args.decisions} recorded decisions a run, {args.concurrency} "
        f"callers, median of {args.rounds} rounds (load average now {os.getloadavg()[0]:.2f})"
    )
    print(f"{'configuration':<32} {'cpu us/decision':>15} {'added':>8}")
    previous: float | None = None
    for name, figures in results.items():
        cpu = statistics.median(f.cpu_us for f in figures)
        added = "" if previous is None else f"{cpu - previous:+8.1f}"
        print(f"{name:<32} {cpu:15.1f} {added:>8}")
        previous = cpu


if __name__ == "__main__":
    main()
