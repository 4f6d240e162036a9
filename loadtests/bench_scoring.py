"""What a tree ensemble costs a decision: one ONNX run over 20 offers, by family, depth
(or leaves) and number of trees, on the session options the service uses.

    .venv/bin/python loadtests/bench_scoring.py [--runs 3000]

The models are fitted on a generated history (10,000 rows, 12 numbers, acceptance near
10 % with interactions), exported as the training command exports them (skl2onnx,
LightGBM through its registered converter) and run through onnxruntime with one
intra-op thread, as the service runs them (`training.export.single_thread_session`).
Each configuration's figure is the median microseconds of `--runs` runs over the same
20 rows (fresh arrays, as the text-fed path does), after a warm-up; the last line fits
run time = a + b x trees by least squares over the tree models: the fixed cost of a run
and what each tree adds. (A row walks one path of each tree, depth nodes long: the
depths and leaf counts here change its length by a few nodes, and the run time by less
than the noise. The number of trees is what costs.)

`family: auto` in `nextbest train` chooses among 50, 100, 200 and 400 trees (gbt depth
2 or 4, lgbm 7 or 31 leaves) by cross-validation: this table is what each choice costs
at serving time. The demo's shipped model is gbt, 150 trees of depth 4.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

import numpy as np
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from nextbest.training.export import single_thread_session
from nextbest.training.families import _lightgbm

FEATURES = 12
ROWS = 20
TREES = (50, 100, 200, 400)


def history(rows: int, seed: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    logit = -2.6 + 0.8 * x[:, 0] - 0.6 * x[:, 1] + 0.9 * x[:, 2] * x[:, 3] + (x[:, 4] > 1.0)
    y = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return x, y.astype(np.int64)


def to_onnx(model: Any) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_model = convert_sklearn(
            model,
            initial_types=[("x", FloatTensorType([None, FEATURES]))],
            options={id(model): {"zipmap": False}},
            target_opset={"": 17, "ai.onnx.ml": 3},
        )
    data: bytes = onnx_model.SerializeToString()
    return data


def run_us(model: bytes, rows: np.ndarray[Any, Any], runs: int) -> float:
    session = single_thread_session(model)
    output = [session.get_outputs()[-1].name]
    for _ in range(200):
        session.run(output, {"x": rows.copy()})
    samples = []
    for _ in range(runs):
        feed = {"x": rows.copy()}
        started = time.perf_counter_ns()
        session.run(output, feed)
        samples.append((time.perf_counter_ns() - started) / 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    x, y = history(10_000, args.seed)
    rows = x[:ROWS].copy()
    lgbm = _lightgbm()
    configs: list[tuple[str, int, int, Any]] = [("logreg", 0, 1, LogisticRegression(max_iter=2000))]
    for depth in (2, 4):
        for trees in TREES:
            model = GradientBoostingClassifier(
                n_estimators=trees, max_depth=depth, subsample=0.8, random_state=args.seed
            )
            configs.append((f"gbt depth {depth}", trees, 2**depth, model))
    for leaves in (7, 31):
        for trees in TREES:
            model = lgbm(
                n_estimators=trees,
                num_leaves=leaves,
                random_state=args.seed,
                deterministic=True,
                verbose=-1,
                n_jobs=1,
            )
            configs.append((f"lgbm {leaves} leaves", trees, leaves, model))

    print(f"one ONNX run over {ROWS} rows x {FEATURES} numbers, median of {args.runs} runs")
    print(f"{'model':<18} {'trees':>5} {'leaves/tree':>11} {'us/run':>8} {'us/row':>7}")
    fit_points: list[tuple[int, float]] = []
    for name, trees, leaves, model in configs:
        model.fit(x, y)
        us = run_us(to_onnx(model), rows, args.runs)
        print(f"{name:<18} {trees:>5} {leaves:>11} {us:8.1f} {us / ROWS:7.2f}")
        if trees > 1:
            fit_points.append((trees, us))

    size = np.array([p[0] for p in fit_points], dtype=np.float64)
    cost = np.array([p[1] for p in fit_points], dtype=np.float64)
    slope, intercept = np.polyfit(size, cost, 1)
    residual = cost - (intercept + slope * size)
    print(
        f"least squares over the tree models: run = {intercept:.1f} us + "
        f"{slope * 1000:.0f} ns x trees (for {ROWS} rows; residuals up to "
        f"{np.abs(residual).max():.1f} us)"
    )


if __name__ == "__main__":
    main()
