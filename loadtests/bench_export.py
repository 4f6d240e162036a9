"""`nextbest history export` on a large generated history: time and peak memory.

    .venv/bin/python loadtests/bench_export.py --decisions 200000 1000000

For each size it writes a history of that many decisions (3 offers each, a response to
two of them, the demo's request fields) with the file sink into a scratch directory,
then runs `nextbest history export` on it in a child process and prints the wall time
and the child's peak resident memory. A streaming export holds only one response window
of decisions, so its memory should not grow with the history.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nextbest.history.file_sink import FileSink
from nextbest.history.records import DecisionRecord, OfferShown, ResponseRecord, encode_record

_OFFERS = ("gas_supply", "broadband_bundle", "smart_meter")


def _records(n: int, start: datetime) -> list[bytes]:
    lines = []
    for i in range(n):
        at = start + timedelta(milliseconds=20 * i)  # 50 decisions a second
        decision_id = f"d{i:09d}"
        lines.append(
            encode_record(
                DecisionRecord(
                    decision_id=decision_id,
                    at=at,
                    bundle_name="demo-energy",
                    bundle_version="2026.11.0",
                    customer_id=f"C-{i % 100_000}",
                    channel="call_center",
                    fields={
                        "customer.clv": float(i % 5000),
                        "customer.lifecycle_stage": "loyal",
                        "context.channel": "call_center",
                        "context.call_reason": "move_house",
                        "context.wait_time_s": float(i % 400),
                        "customer.attributes.tenure_months": i % 200,
                        "customer.attributes.churn_score": (i % 100) / 100,
                    },
                    offers=[
                        OfferShown(
                            offer_id=o,
                            rank=r + 1,
                            category="cross_sell",
                            propensity=0.1,
                            priority=1.0,
                            value=10.0,
                        )
                        for r, o in enumerate(_OFFERS)
                    ],
                )
            )
        )
        for offer, outcome in ((_OFFERS[0], "accepted" if i % 7 == 0 else "declined"),):
            answered = at + timedelta(seconds=30)
            lines.append(
                encode_record(
                    ResponseRecord(
                        decision_id=decision_id,
                        offer_id=offer,
                        customer_id=f"C-{i % 100_000}",
                        channel="call_center",
                        outcome=outcome,  # type: ignore[arg-type]
                        occurred_at=answered,
                        received_at=answered,
                        key=f"{decision_id}:{offer}:{outcome}",
                    )
                )
            )
    return lines


def _write(directory: Path, n: int) -> None:
    async def run() -> None:
        sink = FileSink(directory)
        await sink.open()
        start = datetime(2026, 11, 1, tzinfo=UTC)
        chunk = 50_000
        for first in range(0, n, chunk):
            batch = _records(min(chunk, n - first), start + timedelta(milliseconds=20 * first))
            await sink.write(batch)
        await sink.aclose()

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, nargs="+", default=[200_000, 1_000_000])
    args = parser.parse_args()
    print("decisions  history MB  rows       export s  peak MiB")
    for n in args.decisions:
        with tempfile.TemporaryDirectory(prefix="nextbest-bench-export-") as scratch:
            history, out = Path(scratch) / "history", Path(scratch) / "table.parquet"
            _write(history, n)
            size = sum(p.stat().st_size for p in history.iterdir()) / 1e6
            started = time.perf_counter()
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            subprocess.run(
                [sys.executable, "-m", "nextbest.cli", "history", "export", "--source",
                 str(history), "--out", str(out), "--window", "1h", "--quiet"],
                check=True,
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            spent = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            rows = 3 * n
            note = "" if peak > before else " (no higher than the run before)"
            print(f"{n:>9}  {size:>10.0f}  {rows:<9}  {spent:>8.1f}  {peak / 1024:>8.0f}{note}")


if __name__ == "__main__":
    main()
