"""How long a bundle reload holds up the decisions served meanwhile (in process, no HTTP).

    .venv/bin/python loadtests/bench_reload.py [--reloads 5] [--rate 500]

Serves seeded decisions (embedded store) at a steady `--rate` per second on one event
loop (uvloop, as the server runs) while the reloader loads the demo bundle again
`--reloads` times, one after the other, and prints the decision time p50/p99/max during
the reloads and outside them, with the event loop's lag (how late a 1 ms ticker runs).
A reload loads and checks the bundle in a worker thread; whatever it does holding the
GIL (parsing, validation, garbage collection of what it allocates) delays the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time

import uvloop
from bench_decide import percentile, requests

from nextbest import service
from nextbest.api.reloader import BundleReloader
from nextbest.api.state import Serving
from nextbest.bundle import load_bundle
from nextbest.config import default_bundle_path
from nextbest.decide import Decider, DecisionRequest
from nextbest.logging import configure_logging
from nextbest.pressure import MemoryContactStore
from nextbest.pressure.gate import PressureGate


async def _serve(
    serving: Serving, batch: list[DecisionRequest], rate: float, stop: asyncio.Event
) -> list[tuple[float, float]]:
    """(started at, decision ms) for each decision, sent on a fixed schedule."""
    samples: list[tuple[float, float]] = []
    interval = 1 / rate
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()

    async def one(request: DecisionRequest, due: float) -> None:
        await service.decide(serving.decider, serving.gate, request)
        samples.append((due, (time.perf_counter() - due) * 1000))

    n = 0
    next_due = time.perf_counter()
    while not stop.is_set():
        now = time.perf_counter()
        while next_due <= now:
            task = loop.create_task(one(batch[n % len(batch)], next_due))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
            next_due += interval
        await asyncio.sleep(max(0.0, next_due - time.perf_counter()))
    await asyncio.gather(*pending)
    return samples


async def _ticker(stop: asyncio.Event) -> list[tuple[float, float]]:
    lags = []
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((before, (time.perf_counter() - before - 0.001) * 1000))
    return lags


def _figures(values: list[float]) -> str:
    if not values:
        return "none"
    return (
        f"p50 {percentile(values, 0.5):6.2f}  p99 {percentile(values, 0.99):6.2f}  "
        f"max {max(values):6.2f} ms  (n={len(values)})"
    )


async def _run(reloads: int, rate: float, warmup_s: float) -> None:
    path = default_bundle_path()
    decider = Decider(load_bundle(path))
    serving = Serving(decider, PressureGate(MemoryContactStore()))
    reloader = BundleReloader(serving, path)
    batch = requests(decider.bundle, 2000, seed=7)
    gc.collect()
    gc.freeze()  # as the server does once started (api/app.py): full passes skip all this
    stop = asyncio.Event()
    serve = asyncio.ensure_future(_serve(serving, batch, rate, stop))
    tick = asyncio.ensure_future(_ticker(stop))
    await asyncio.sleep(warmup_s)
    windows = []
    for _ in range(reloads):
        started = time.perf_counter()
        attempt = await reloader.reload()
        windows.append((started, time.perf_counter()))
        assert attempt.result == "loaded", attempt
        await asyncio.sleep(0.5)
    stop.set()
    samples, lags = await serve, await tick
    first = windows[0][0] - warmup_s / 2

    def during(at: float) -> bool:
        return any(start <= at <= end for start, end in windows)

    def outside(at: float) -> bool:
        return at >= first and not during(at)

    reload_s = [end - start for start, end in windows]
    print(f"{reloads} reloads of the demo bundle, {min(reload_s):.2f}-{max(reload_s):.2f} s each")
    print(f"decisions at {rate:.0f}/s, latency from their due time:")
    print(f"  during reloads  {_figures([ms for at, ms in samples if during(at)])}")
    print(f"  otherwise       {_figures([ms for at, ms in samples if outside(at)])}")
    print("event loop lag (1 ms ticker):")
    print(f"  during reloads  {_figures([ms for at, ms in lags if during(at)])}")
    print(f"  otherwise       {_figures([ms for at, ms in lags if outside(at)])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reloads", type=int, default=5)
    parser.add_argument("--rate", type=float, default=500.0, help="decisions per second")
    parser.add_argument("--warmup-s", type=float, default=1.0)
    args = parser.parse_args()
    configure_logging("json", "warning")  # a log line per decision is not what is measured
    uvloop.run(_run(args.reloads, args.rate, args.warmup_s))


if __name__ == "__main__":
    main()
