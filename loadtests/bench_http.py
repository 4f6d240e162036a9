"""Decisions over HTTP against the floor of the same stack, then the in-process figures.

    .venv/bin/python loadtests/bench_http.py

For each worker count and each contact store (embedded, then a redis-server of its own
on a free loopback port) it starts `nextbest serve` with `NEXTBEST_BENCH_FLOOR=true` and:

1. saturates `POST /bench/floor` (decode a small body, return a constant) and then
   `POST /v1/decisions` with wrk (closed loop, one thread, --connections connections,
   8 by default: enough to keep every worker busy without queueing a decision past the
   contact-store budget); the ratio of their requests per second is the headline;
2. sends decisions at 50 % of the saturation rate just measured, open loop at a fixed
   rate (see _openloop.py), for the latency a caller sees below saturation.

Decision bodies are bench_decide.py's seeded demo requests (stages, call reasons,
waits, CLVs, owned products), all recorded (`dry_run` false, `explain` false), each with
a customer id of its own (`BH<run>-...`), so that the store is asked and written on every
decision that carries a sales offer, as at peak. Then it prints bench_decide.py's and
bench_pressure.py's in-process figures (no HTTP) on the same machine.

Figures are not assertions: the machine's other work moves them; the ratio, measured
in one run, moves less.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import os
import secrets
import shlex
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import bench_decide
import bench_pressure
import msgspec
from _cpu import tree_cpu_s
from _openloop import OpenLoopResult, run_open_loop
from _servers import RunningServer, nextbest_server, redis_server
from _wrk import WRK_MISSING, WrkResult, find_wrk, run_wrk, write_script

from nextbest.bundle import Bundle, load_bundle
from nextbest.config import default_bundle_path
from nextbest.decide import Decider
from nextbest.logging import configure_logging

_ID = "__CUSTOMER_ID__"
_STORES = ("embedded", "redis")
_HISTORY = ("off", "file", "redis")
_TEMPLATES = 2000
_SERVER_NOTES = {
    "uvicorn": "uvicorn via `nextbest serve` (uvloop, httptools)",
    "granian": "granian (asgi, uvloop, HTTP/1)",
}


def decision_templates(bundle: Bundle, count: int, seed: int) -> list[tuple[str, str]]:
    """(before id, after id) JSON of recorded decision requests."""
    templates = []
    for request in bench_decide.requests(bundle, count, seed):
        recorded = msgspec.structs.replace(
            request,
            customer=msgspec.structs.replace(request.customer, id=_ID),
            explain=False,
            dry_run=False,
        )
        before, after = msgspec.json.encode(recorded).decode().split(_ID)
        templates.append((before, after))
    return templates


def floor_templates(bundle: Bundle) -> list[tuple[str, str]]:
    return [('{"customer_id":"', f'","channel":"{c}"}}') for c in bundle.vocabulary.channels]


@dataclass(frozen=True)
class Row:
    round: int
    workers: int
    store: str
    endpoint: str
    result: WrkResult
    server_cpu_us: float | None
    """The server's CPU time (all its processes) per request answered."""


@dataclass(frozen=True)
class OpenRow:
    round: int
    workers: int
    store: str
    result: OpenLoopResult


class Bench:
    def __init__(self, args: argparse.Namespace, wrk: str, bundle: Bundle, work: Path) -> None:
        self.args = args
        self.wrk = wrk
        self.work = work
        self.run_id = secrets.token_hex(3)
        self.decisions = decision_templates(bundle, _TEMPLATES, args.seed)
        self.floor = floor_templates(bundle)
        self.rows: list[Row] = []
        self.open_rows: list[OpenRow] = []
        self.round = 0

    def closed(
        self, server: RunningServer, endpoint: str, phase: str, duration: float
    ) -> tuple[WrkResult, float | None]:
        """wrk's result, and the server's CPU microseconds per request answered."""
        templates = self.floor if endpoint == "/bench/floor" else self.decisions
        prefix = f"BH{self.run_id}-{server.port}-{self.round}{phase}-"
        script = write_script(self.work / f"{phase}-{server.port}.lua", endpoint, templates, prefix)
        cpu_before = tree_cpu_s(server.pid)
        result = run_wrk(
            self.wrk,
            server.base + endpoint,
            script,
            duration_s=duration,
            connections=self.args.connections,
        )
        cpu_after = tree_cpu_s(server.pid)
        if cpu_before is None or cpu_after is None or not result.requests:
            return result, None
        return result, (cpu_after - cpu_before) * 1e6 / result.requests

    def _open(self, server: RunningServer, rate: float) -> OpenLoopResult:
        duration = self.args.duration
        head = (
            f"POST /v1/decisions HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
            "Content-Type: application/json\r\n"
        )
        payloads = []
        for n in range(int(rate * duration) + 1):
            before, after = self.decisions[n % len(self.decisions)]
            body = f"{before}BH{self.run_id}-{server.port}-{self.round}open-{n}{after}".encode()
            payloads.append(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        return run_open_loop(
            server.host, server.port, payloads.__getitem__, rate=rate, duration_s=duration
        )

    def measure(self, server: RunningServer, workers: int, store: str, history: str) -> None:
        args = self.args
        store = f"{store}/{history}"  # the row's label
        say(f"  workers {workers}, {store}: warm-up {args.warmup:g} s per endpoint")
        for endpoint in ("/bench/floor", "/v1/decisions"):
            self.closed(server, endpoint, "warm" + endpoint.rsplit("/", 1)[1], args.warmup)
        for endpoint in ("/bench/floor", "/v1/decisions"):
            say(f"  workers {workers}, {store}: {endpoint} closed loop {args.duration:g} s")
            result, cpu_us = self.closed(
                server, endpoint, endpoint.rsplit("/", 1)[1], args.duration
            )
            self.rows.append(Row(self.round, workers, store, endpoint, result, cpu_us))
        saturation = self.rows[-1].result.rps
        if args.open_loop and saturation > 0:
            rate = saturation * args.open_loop_share
            say(f"  workers {workers}, {store}: open loop at {rate:.0f}/s for {args.duration:g} s")
            self.open_rows.append(OpenRow(self.round, workers, store, self._open(server, rate)))


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _loadavg() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def _floor_rows(bench: Bench) -> dict[tuple[int, int, str], Row]:
    return {(r.round, r.workers, r.store): r for r in bench.rows if r.endpoint == "/bench/floor"}


def _ratios(bench: Bench, row: Row) -> tuple[float | None, float | None]:
    """A decision row's requests per second over its floor's (same workers and store,
    same run), and the floor's server CPU per request over the decision's."""
    floor = _floor_rows(bench).get((row.round, row.workers, row.store))
    if floor is None or row is floor or not floor.result.rps:
        return None, None
    rps = row.result.rps / floor.result.rps
    cpu = (
        floor.server_cpu_us / row.server_cpu_us
        if floor.server_cpu_us and row.server_cpu_us
        else None
    )
    return rps, cpu


def _fmt(value: float | None, spec: str, width: int) -> str:
    return f"{value:{width}{spec}}" if value is not None else " " * width


def print_tables(bench: Bench) -> None:
    print(
        f"{'round':>5} {'workers':>7}  {'store/history':<14}  {'endpoint':<14} {'rps':>8} "
        f"{'p50 ms':>7} ",
        end="",
    )
    print(
        f"{'p99 ms':>7} {'errors':>6} {'degraded':>8} {'wrk cpu':>7} {'srv us/req':>10}  "
        f"{'x floor':>7} {'x floor cpu':>11}"
    )
    for row in bench.rows:
        r = row.result
        rps_ratio, cpu_ratio = _ratios(bench, row)
        print(
            f"{row.round + 1:>5} {row.workers:>7}  {row.store:<14}  {row.endpoint:<14} "
            f"{r.rps:8.0f} {r.p50_ms:7.2f} {r.p99_ms:7.2f} {r.errors:>6} {r.degraded:>8} "
            f"{r.cpu_share:7.0%} {_fmt(row.server_cpu_us, '.0f', 10)}  "
            f"{_fmt(rps_ratio, '.2f', 7)} {_fmt(cpu_ratio, '.2f', 11)}"
        )
    print(
        "(x floor: decisions/s over the floor's in the same server; x floor cpu: the "
        "floor's server CPU per request over a decision's, the ratio on cores of their own)"
    )
    if bench.open_rows:
        share = f"{bench.args.open_loop_share:.0%}"
        print()
        print(f"/v1/decisions open loop at {share} of the saturation rps above")
        print("(latency from schedule; 'send' from when the request was written)")
        print(
            f"{'round':>5} {'workers':>7}  {'store/history':<14}  {'rate/s':>7} {'got/s':>7} "
            f"{'p50 ms':>7} "
            f"{'p99 ms':>7} {'send p99':>8} {'lag p99':>7} {'errors':>6} {'degraded':>8} "
            f"{'gen cpu':>7}"
        )
        for row in bench.open_rows:
            o = row.result
            print(
                f"{row.round + 1:>5} {row.workers:>7}  {row.store:<14}  {o.rate:7.0f} "
                f"{o.achieved:7.0f} "
                f"{o.p50_ms:7.2f} {o.p99_ms:7.2f} {o.send_p99_ms:8.2f} {o.lag_p99_ms:7.2f} "
                f"{o.errors:>6} {o.degraded:>8} {o.cpu_share:7.0%}"
            )


def in_process(bundle: Bundle, redis_url: str, args: argparse.Namespace) -> float:
    """Prints the in-process figures; the decision's p50 in microseconds."""
    print()
    print("in process (no HTTP), bench_decide.py:")
    samples = bench_decide.measure(bundle, args.decisions, args.seed)
    bench_decide.report(bundle, samples)
    print()
    print("in process, bench_pressure.py (recorded decisions, both stores):")
    result = bench_pressure.measure(
        Decider(bundle), redis_url, args.pressure_decisions, customers=2000, warmup=300
    )
    bench_pressure.report(result)
    return bench_decide.percentile(samples["total"], 0.5)


def _verdict(value: float | None, target: float, *, at_most: bool = False) -> str:
    if value is None:
        return "not measured"
    met = value <= target if at_most else value >= target
    return "met" if met else "NOT met"


@dataclass(frozen=True)
class RoundFigures:
    """One round's figures for the targets (None: not measured in that round)."""

    rps_ratio: float | None
    cpu_ratio: float | None
    open_p99_ms: float | None
    scaling: float | None
    """Two workers' decisions per second over one worker's (same store and history)."""
    scaling_cpu: float | None
    """Twice one worker's server CPU per decision over two workers': what two workers
    reach on two cores of their own (which the load generator and Redis share here)."""


def round_figures(bench: Bench, round_: int) -> RoundFigures:
    decisions = [r for r in bench.rows if r.endpoint == "/v1/decisions" and r.round == round_]
    recorded = next(
        (
            r
            for r in decisions
            if r.workers == 1 and r.store.startswith("redis/") and not r.store.endswith("/off")
        ),
        None,
    )
    rps_ratio, cpu_ratio = _ratios(bench, recorded) if recorded else (None, None)
    open_p99 = next(
        (
            o.result.p99_ms
            for o in bench.open_rows
            if recorded and o.round == round_ and o.store == recorded.store and o.workers == 1
        ),
        None,
    )
    one = {r.store: r for r in decisions if r.workers == 1}
    pairs = [(one[r.store], r) for r in decisions if r.workers == 2 and r.store in one]
    scaling = scaling_cpu = None
    if pairs:
        single, double = pairs[0]
        if single.result.rps:
            scaling = double.result.rps / single.result.rps
        if single.server_cpu_us and double.server_cpu_us:
            scaling_cpu = 2 * single.server_cpu_us / double.server_cpu_us
    return RoundFigures(rps_ratio, cpu_ratio, open_p99, scaling, scaling_cpu)


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _each(values: Sequence[float | None], spec: str) -> str:
    return " ".join("-" if v is None else f"{v:{spec}}" for v in values)


def print_targets(bench: Bench, decision_p50s_us: Sequence[float]) -> None:
    """The targets of issue 16 against this run's figures: the median over the rounds,
    then each round's figure."""
    rounds = [round_figures(bench, n) for n in range(bench.args.rounds)]
    cpu = [f.cpu_ratio for f in rounds]
    rps = [f.rps_ratio for f in rounds]
    open_p99 = [f.open_p99_ms for f in rounds]
    scaling = [f.scaling for f in rounds]
    scaling_cpu = [f.scaling_cpu for f in rounds]
    p50s: list[float | None] = list(decision_p50s_us)
    print()
    print(f"targets (issue 16), median of {len(rounds)} round(s) [each round]:")
    lines = [
        (
            "one worker, Redis store, history recorded: x floor >= 0.35",
            f"cpu {_fmt(_median(cpu), '.2f', 4)} [{_each(cpu, '.2f')}], "
            f"rps {_fmt(_median(rps), '.2f', 4)} [{_each(rps, '.2f')}]",
            _verdict(_median(cpu), 0.35),
        ),
        (
            "p99 at half saturation (that row, open loop) <= 10 ms",
            f"{_fmt(_median(open_p99), '.2f', 6)} ms [{_each(open_p99, '.2f')}]",
            _verdict(_median(open_p99), 10, at_most=True),
        ),
        (
            "two workers over one, decisions/s >= 1.8",
            f"cpu {_fmt(_median(scaling_cpu), '.2f', 4)} [{_each(scaling_cpu, '.2f')}], "
            f"rps {_fmt(_median(scaling), '.2f', 4)} [{_each(scaling, '.2f')}]",
            _verdict(_median(scaling_cpu), 1.8),
        ),
        (
            "in process, 20 offers, a decision's p50 <= 75 us",
            f"{_fmt(_median(p50s), '.1f', 6)} us [{_each(p50s, '.1f')}]",
            _verdict(_median(p50s), 75, at_most=True),
        ),
    ]
    for target, figure, verdict in lines:
        print(f"  {target:<58} {figure:<34} {verdict}")
    print(
        "  (both ratios are judged on server CPU per request, which other work on the "
        "machine does not move: x floor is the floor's CPU per request over a decision's; "
        "two workers over one is twice one worker's CPU per decision over two workers', "
        "their rate on two cores of their own, which wrk and Redis share here)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=10, help="seconds per measured run (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2, help="seconds of warm-up per endpoint (default 2)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure everything this many times; the targets are judged on the median "
        "(default 1; the issue's figures are medians of 3)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="server worker counts to measure, in turn (default: 1 2)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=8,
        help="wrk connections for the closed-loop runs (default 8; one wrk thread). Enough "
        "to keep every worker busy; many more only queue requests inside the workers, and "
        "past the contact-store budget (10 ms) a queued decision is answered degraded",
    )
    parser.add_argument(
        "--server",
        choices=["uvicorn", "granian"],
        default="uvicorn",
        help="uvicorn: `nextbest serve` (default); granian: the same app under granian",
    )
    parser.add_argument(
        "--stores", nargs="+", choices=_STORES, default=list(_STORES), help="default: both"
    )
    parser.add_argument(
        "--history",
        nargs="+",
        choices=_HISTORY,
        default=["file"],
        help="interaction history sinks to measure, each with every store (default: file, "
        "the service's default); `off file redis` gives the history's cost",
    )
    parser.add_argument(
        "--open-loop-share",
        type=float,
        default=0.5,
        help="fixed rate of the latency run, as a share of saturation (default 0.5)",
    )
    parser.add_argument(
        "--no-open-loop", dest="open_loop", action="store_false", help="skip the latency run"
    )
    parser.add_argument(
        "--no-in-process", dest="in_process", action="store_false", help="skip those figures"
    )
    parser.add_argument(
        "--decisions", type=int, default=10_000, help="in-process decisions (bench_decide)"
    )
    parser.add_argument(
        "--pressure-decisions",
        type=int,
        default=5000,
        help="in-process recorded decisions per store (bench_pressure)",
    )
    parser.add_argument(
        "--redis-budget-ms",
        type=int,
        default=None,
        help="NEXTBEST_REDIS_BUDGET_MS for the servers (default: the service's, 10 ms). On a "
        "machine shared with other work, store calls that wait for a core pass 10 ms and "
        "the decisions are answered degraded, and reconnecting after each late call costs "
        "more CPU than the decision; a larger budget measures the decision itself",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="server log level (default info: one JSON line per decision, as in production)",
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the server logs and wrk scripts"
    )
    return parser


@contextlib.contextmanager
def _workdir(args: argparse.Namespace) -> Iterator[Path]:
    """A directory for the server logs and wrk scripts, kept when asked or when something
    failed (`args.keep_logs` is read on the way out)."""
    path = Path(tempfile.mkdtemp(prefix="nextbest-bench-http-"))
    failed = True
    try:
        yield path
        failed = False
    finally:
        if args.keep_logs or failed:
            say(f"server logs and wrk scripts kept in {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    parser = _parser()
    args = parser.parse_args()
    if args.in_process and args.pressure_decisions <= 300:
        parser.error("--pressure-decisions must be over bench_pressure's warm-up of 300")
    wrk = find_wrk()
    if wrk is None:
        raise SystemExit(WRK_MISSING)
    bundle = load_bundle(default_bundle_path())
    started = dt.datetime.now(dt.UTC)
    load_before = _loadavg()
    command = shlex.join([Path(sys.executable).name, *sys.argv])

    need_redis = "redis" in args.stores or "redis" in args.history or args.in_process
    with (
        _workdir(args) as work,
        redis_server() if need_redis else contextlib.nullcontext("") as redis_url,
    ):
        bench = Bench(args, wrk, bundle, work)
        env = {"NEXTBEST_BENCH_FLOOR": "true", "NEXTBEST_LOG_LEVEL": args.log_level}
        if args.redis_budget_ms is not None:
            env["NEXTBEST_REDIS_BUDGET_MS"] = str(args.redis_budget_ms)
        for round_, workers in itertools.product(range(args.rounds), args.workers):
            bench.round = round_
            for store, history in itertools.product(args.stores, args.history):
                server_env = {
                    **env,
                    "NEXTBEST_REDIS_URL": redis_url if store == "redis" else "",
                    "NEXTBEST_HISTORY_SINK": history,
                    "NEXTBEST_HISTORY_DIR": str(work / f"history-{workers}-{store}"),
                    "NEXTBEST_HISTORY_REDIS_URL": redis_url or "",
                }
                with nextbest_server(
                    workers=workers, log_dir=work, server=args.server, env=server_env
                ) as server:
                    bench.measure(server, workers, store, history)

        print(f"nextbest HTTP benchmark, {started:%Y-%m-%d %H:%M} UTC: {command}")
        print(
            f"{os.cpu_count()} cores, load generator on the same machine; "
            f"load average before {load_before}, after {_loadavg()}"
        )
        print(
            f"server {_SERVER_NOTES[args.server]}, log level {args.log_level}; "
            f"bundle {bundle.name} {bundle.version}, {len(bundle.offers)} offers; "
            f"wrk 1 thread, {args.connections} connections, {args.duration:g} s per run; "
            f"Redis budget {args.redis_budget_ms or 'default'} ms"
        )
        print()
        print_tables(bench)
        results = [row.result for row in bench.rows] + [row.result for row in bench.open_rows]
        if any(r.errors or r.degraded for r in results):
            print(f"\nsome requests failed or were degraded: see the server logs in {work}")
            args.keep_logs = True
        configure_logging("json", "warning")  # the in-process decisions' lines are not figures
        decision_p50s_us = (
            [in_process(bundle, redis_url, args) for _ in range(args.rounds)]
            if args.in_process
            else []
        )
        print_targets(bench, decision_p50s_us)


if __name__ == "__main__":
    main()
