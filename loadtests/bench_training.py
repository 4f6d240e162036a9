"""Training at scale: `nextbest train` with `family: auto` on a generated history of
1,000,000 rows x 30 features (20 numbers and 10 categories, 3 % of cells missing), timing
each phase and its peak resident memory.

    .venv/bin/python loadtests/bench_training.py [--rows N] [--format csv|parquet]

The history's acceptance depends on the numbers linearly and on interactions and
thresholds that trees find, at a base rate near 10 %. The bundle is a copy of the demo
with the 30 attributes declared.
Peak memory per phase: the kernel's high-water mark (VmHWM) of this process, reset at
the start of each phase (/proc/self/clear_refs), so each figure is that phase's own.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from nextbest.training.progress import Progress
from nextbest.training.train import train_model

REPO = Path(__file__).resolve().parents[1]
DEMO_BUNDLE = REPO / "models" / "demo-energy"
NUMBERS = 20
CATEGORIES = (3, 4, 5, 6, 8, 10, 12, 15, 20, 30)


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


class Phases(Progress):
    """Progress that also records each phase's seconds and peak memory."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.rows: list[tuple[str, float, float]] = []

    @contextmanager
    def bar(self, text: str, total: int) -> Iterator[Callable[[], None]]:
        _reset_peak()
        started = time.perf_counter()
        with super().bar(text, total) as advance:
            yield advance
        self.rows.append((text, time.perf_counter() - started, _peak_mib()))


def generate(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, NUMBERS)).astype(np.float32)
    codes = [rng.integers(0, n, rows) for n in CATEGORIES]
    weights = rng.normal(scale=0.4, size=NUMBERS)
    logit = (
        0.5 * (x @ weights)
        + 1.5 * (x[:, 0] * x[:, 1] > 0)
        + 1.2 * ((codes[0] == 1) & (x[:, 2] > 0.5))
        + 0.8 * (np.abs(x[:, 3]) > 1.5)
        + 0.3 * (codes[4] % 3 == 0)
        - 3.3
    )
    accepted = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    x[rng.random(x.shape) < 0.03] = np.nan
    columns: dict[str, pa.Array] = {
        f"f{j:02d}": pa.array(x[:, j], from_pandas=True) for j in range(NUMBERS)
    }
    for j, (n, c) in enumerate(zip(CATEGORIES, codes, strict=True)):
        levels = np.array([f"v{k}" for k in range(n)], dtype=object)
        cells = levels[c]
        cells[rng.random(rows) < 0.03] = ""
        columns[f"c{j:02d}"] = pa.array(cells, type=pa.string())
    columns["accepted"] = pa.array(accepted)
    return pa.table(columns)


def _bundle(target: Path) -> Path:
    shutil.copytree(DEMO_BUNDLE, target, ignore=shutil.ignore_patterns("training"))
    meta = yaml.safe_load((target / "bundle.yaml").read_text())
    meta["customer_attributes"].update({f"f{j:02d}": "number" for j in range(NUMBERS)})
    meta["customer_attributes"].update({f"c{j:02d}": "string" for j in range(len(CATEGORIES))})
    (target / "bundle.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    return target


def _spec(path: Path) -> Path:
    spec = {
        "model": {"id": "propensity", "family": "auto"},
        "outcome": {"column": "accepted"},
        "offer": {"id": "gas_supply"},
        "features": {
            "numeric": {f"f{j:02d}": f"customer.attributes.f{j:02d}" for j in range(NUMBERS)},
            "categorical": {
                f"c{j:02d}": f"customer.attributes.c{j:02d}" for j in range(len(CATEGORIES))
            },
        },
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nextbest-bench-") as scratch:
        root = Path(scratch)
        started = time.perf_counter()
        table = generate(args.rows, args.seed)
        data = root / f"history.{args.format}"
        if args.format == "csv":
            pacsv.write_csv(table, data)
        else:
            pq.write_table(table, data)
        del table
        made = time.perf_counter() - started
        bundle = _bundle(root / "bundle")
        phases = Phases()
        _reset_peak()
        started = time.perf_counter()
        report = train_model(data, _spec(root / "spec.yaml"), bundle, progress=phases)
        total = time.perf_counter() - started
        overall = max(peak for _, _, peak in phases.rows)
        size = data.stat().st_size / 2**20
    print(
        f"history: {args.rows} rows x 30 features, {args.format} {size:.0f} MiB "
        f"(generated in {made:.1f} s)"
    )
    print(f"{'phase':<80} {'seconds':>8} {'peak MiB':>9}")
    for text, seconds, peak in phases.rows:
        print(f"{text[:80]:<80} {seconds:>8.1f} {peak:>9.0f}")
    print(f"{'total (train_model)':<80} {total:>8.1f} {overall:>9.0f}")
    print(
        f"chosen: {report.family}; out-of-fold AUC {report.holdout.roc_auc:.4f}, "
        f"log loss {report.holdout.log_loss:.4f}; parity {report.max_parity_delta:.2g}"
    )
    for line in report.candidates:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
