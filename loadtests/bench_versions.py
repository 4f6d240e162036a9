"""Two versions of the service over HTTP, alternating round by round.

    .venv/bin/python loadtests/bench_versions.py --before /path/to/old/src [--after src]

On a machine whose speed drifts (a VM sharing its host), two `bench_http.py` runs made
minutes apart differ by more than most changes do. Here each round starts one server
per version (its `src/` first on PYTHONPATH; one worker, the Redis store on a
redis-server of its own, the history to files, log level info) and measures, back to
back, the floor and `/v1/decisions` as bench_http.py does (wrk, recorded decisions,
the server's CPU per request), so that both versions see the same minutes. The figures
are the medians over the rounds of the decision's CPU per request and of the floor's
CPU per request over it (`x floor cpu`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import bench_http
from _servers import RunningServer, nextbest_server, redis_server
from _wrk import WRK_MISSING, find_wrk

from nextbest.bundle import load_bundle
from nextbest.config import default_bundle_path


def _cpu_per_request(
    bench: bench_http.Bench,
    server: RunningServer,
    endpoint: str,
    version: str,
    args: argparse.Namespace,
) -> float:
    """The server's CPU microseconds per request to `endpoint`, after a warm-up."""
    phase = f"{version}{endpoint.rsplit('/', 1)[1]}"
    bench.closed(server, endpoint, f"warm-{phase}", args.warmup)
    _, cpu_us = bench.closed(server, endpoint, phase, args.duration)
    if cpu_us is None:
        raise SystemExit(f"{endpoint}: no CPU time or no requests answered")
    return cpu_us


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", type=Path, required=True, help="the old version's src/")
    parser.add_argument(
        "--after", type=Path, default=Path("src"), help="the new version's src/ (default: src)"
    )
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds per endpoint")
    args = parser.parse_args()
    wrk = find_wrk()
    if wrk is None:
        raise SystemExit(WRK_MISSING)
    bundle = load_bundle(default_bundle_path())
    versions = {"before": args.before.resolve(), "after": args.after.resolve()}
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in versions}
    with redis_server() as redis_url, tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        bench = bench_http.Bench(argparse.Namespace(seed=7, connections=8), wrk, bundle, work)
        for round_ in range(args.rounds):
            bench.round = round_
            for name, src in versions.items():
                env = {
                    "PYTHONPATH": str(src),
                    "NEXTBEST_BENCH_FLOOR": "true",
                    "NEXTBEST_LOG_LEVEL": "info",
                    "NEXTBEST_REDIS_URL": redis_url,
                    "NEXTBEST_HISTORY_SINK": "file",
                    "NEXTBEST_HISTORY_DIR": str(work / f"history-{round_}-{name}"),
                }
                with nextbest_server(workers=1, log_dir=work, env=env) as server:
                    floor_us, decision_us = (
                        _cpu_per_request(bench, server, endpoint, name, args)
                        for endpoint in ("/bench/floor", "/v1/decisions")
                    )
                figures[name].append((decision_us, floor_us / decision_us))
                print(
                    f"round {round_ + 1} {name:<6} decision {decision_us:6.0f} us/request, "
                    f"floor {floor_us:5.0f} us/request, x floor cpu {floor_us / decision_us:.3f}",
                    file=sys.stderr,
                    flush=True,
                )
    print("version  decision us/request (median)  x floor cpu (median)  each round")
    for name, rounds in figures.items():
        each = " ".join(f"{ratio:.3f}" for _, ratio in rounds)
        print(
            f"{name:<8} {statistics.median(d for d, _ in rounds):28.0f}  "
            f"{statistics.median(r for _, r in rounds):20.3f}  {each}"
        )


if __name__ == "__main__":
    main()
