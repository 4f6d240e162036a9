"""What recording the interaction history costs a decision, in process (no HTTP).

    .venv/bin/python loadtests/bench_history.py [--decisions 20000]

For the same seeded demo requests it times, per decision, in CPU microseconds:
the decision itself (rules, scoring, arbitration, the answer), building its history
record (on the request path), and encoding plus writing it with the file sink in
batches of `--batch` with one fsync each (in the background writer, but on the same
worker's CPU). The shares are of the decision's own cost; the HTTP benchmark
(`bench_http.py --history off file redis`) shows the same over HTTP, with more noise.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from pathlib import Path

import msgspec
from bench_decide import requests

from nextbest.bundle import load_bundle
from nextbest.config import default_bundle_path
from nextbest.decide import Decider
from nextbest.history.build import FieldFilter, decision_record
from nextbest.history.file_sink import FileSink
from nextbest.history.records import encode_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100, help="records per write (default 100)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bundle = load_bundle(default_bundle_path())
    decider = Decider(bundle)
    batch = [
        msgspec.structs.replace(r, dry_run=False)
        for r in requests(bundle, args.decisions, args.seed)
    ]
    for request in batch[:500]:  # warm-up
        decider.decide(request)
    keep = FieldFilter(frozenset(), frozenset())
    # The phases hold every decision (and then every record) alive at once, which a
    # serving worker never does: with the collector on, its passes over those tens of
    # thousands of live objects were most of the "record built" figure (19 against 3 us).
    gc.disable()

    started = time.process_time()
    decisions = [decider.decide(request) for request in batch]
    decide_s = time.process_time() - started

    started = time.process_time()
    records = [decision_record(d, bundle.name, keep) for d in decisions]
    build_s = time.process_time() - started

    started = time.process_time()
    encoded = [encode_record(r) for r in records]
    encode_s = time.process_time() - started

    async def write(directory: Path) -> float:
        sink = FileSink(directory)
        await sink.open()
        began = time.process_time()
        for start in range(0, len(encoded), args.batch):
            await sink.write(encoded[start : start + args.batch])
        spent = time.process_time() - began
        await sink.aclose()
        return spent

    with tempfile.TemporaryDirectory(prefix="nextbest-bench-history-") as scratch:
        write_s = asyncio.run(write(Path(scratch)))

    n = len(batch)
    decide_us = decide_s / n * 1e6
    print(f"history cost per decision, {n} demo decisions, CPU time (process_time):")
    print(f"  decision (rules, scoring, arbitration, answer) {decide_us:7.1f} us")
    for name, spent in (
        ("record built (request path)", build_s),
        ("record encoded (writer)", encode_s),
        (f"file write + fsync per {args.batch} (writer)", write_s),
    ):
        us = spent / n * 1e6
        print(f"  {name:<47}{us:7.1f} us  {us / decide_us:6.1%} of the decision")
    total = (build_s + encode_s + write_s) / n * 1e6
    print(f"  {'all of it':<47}{total:7.1f} us  {total / decide_us:6.1%} of the decision")
    print(f"  average record {sum(map(len, encoded)) / n:.0f} bytes")


if __name__ == "__main__":
    main()
