"""`nextbest`: serve, validate, seal, init, train, train-demo, history export, evaluate,
report."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nextbest import __version__
from nextbest.bundle import load_bundle, seal_bundle
from nextbest.config import Settings
from nextbest.errors import FieldError
from nextbest.history.factory import check_history_settings

__all__ = ["main"]

_TRAIN_HELP = """\
Train a propensity model from your own response history and write it into a bundle.

HISTORY  CSV (first line: column names; comma, semicolon or tab separated) or Parquet,
         one row per offer presentation: the customer and context columns, the offer
         presented, and the outcome (1/0, yes/no, or values the spec maps).
SPEC     YAML or TOML: which columns are numeric or categorical features and where each
         comes from in a decision request, which column is the outcome, which names the
         offer. Example: models/demo-energy/training/spec.yaml.
BUNDLE   an existing bundle directory (bundle.yaml, offers.yaml; start from a copy of the
         demo). Its models.yaml, models/ID.onnx, models/ID.metrics.json and manifest.json
         are written; nothing else changes.

Missing values and categories never seen in training are handled inside the model.
By default (family auto) logistic regression, gradient-boosted trees and LightGBM are
compared by seeded, stratified 5-fold cross-validation; the one with the lowest
out-of-fold log loss is refitted on all rows and calibrated on its out-of-fold scores.
The report gives every candidate's ROC AUC and log loss (mean ± std over the folds) and
the chosen model's out-of-fold calibration by decile and lift in the top 10 % and 20 %.
The model is written only if ONNX reproduces scikit-learn within 1e-5 and the service
loads the result. The same data, spec and seed give the same files.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nextbest",
        description="Next-best-activity decisioning: ranked, explained offers over HTTP.",
    )
    parser.add_argument("--version", action="version", version=f"nextbest {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve decisions over HTTP")
    serve.add_argument("--host", help="address to bind (env NEXTBEST_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (env NEXTBEST_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (env NEXTBEST_WORKERS)")
    serve.add_argument(
        "--bundle", type=Path, help="bundle directory (env NEXTBEST_BUNDLE, default: the demo)"
    )

    validate = commands.add_parser("validate", help="check a bundle without serving it")
    validate.add_argument("bundle", type=Path, help="bundle directory")

    seal = commands.add_parser("seal", help="write manifest.json (checksums) after editing")
    seal.add_argument("bundle", type=Path, help="bundle directory")

    init = commands.add_parser(
        "init",
        help="write a first bundle for a training spec (valid and servable before training)",
    )
    init.add_argument("dir", type=Path, metavar="DIR", help="new (or empty) bundle directory")
    init.add_argument("--spec", type=Path, required=True, metavar="SPEC", help="YAML or TOML")
    init.add_argument(
        "--data", type=Path, metavar="HISTORY", help="CSV or Parquet: vocabulary and offers"
    )

    train = commands.add_parser(
        "train",
        help="train a propensity model from a response history into a bundle",
        description=_TRAIN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--data", type=Path, required=True, metavar="HISTORY", help="CSV or Parquet")
    train.add_argument("--spec", type=Path, required=True, metavar="SPEC", help="YAML or TOML")
    train.add_argument("--out", type=Path, required=True, metavar="BUNDLE", help="bundle directory")
    train.add_argument("--seed", type=int, help="overrides the spec's seed")
    train.add_argument(
        "--family",
        choices=["auto", "logreg", "gbt", "lgbm"],
        help="overrides the spec's model family (auto: chosen by cross-validation)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress lines")

    train_demo = commands.add_parser(
        "train-demo",
        help="retrain the demo bundle's model: synthetic history, then `train` on it",
    )
    train_demo.add_argument("--bundle", type=Path, help="bundle directory (default: the demo)")
    train_demo.add_argument("--seed", type=int, default=20261123)
    train_demo.add_argument("--rows", type=int, default=60_000, help="history rows to generate")
    train_demo.add_argument("--history", type=Path, help="keep the generated history CSV here")
    train_demo.add_argument("--quiet", action="store_true", help="no progress lines")
    _history_parser(commands)
    _evaluation_parsers(commands)
    return parser


def _evaluation_parsers(commands: Any) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="estimate off-policy what a candidate bundle would have earned on logged traffic",
        description="IPS, SNIPS and DR (the candidate's own model as the reward model), per "
        "slot under the item-position model, for accepted offers and value per decision, "
        "each with a percentile-bootstrap 95 % interval, beside the logging policy's "
        "observed value. See the README, 'Evaluate before you deploy'.",
    )
    evaluate.add_argument(
        "--history", required=True, help="history directory, segment file, or redis://..."
    )
    evaluate.add_argument("--bundle", type=Path, required=True, help="the candidate bundle")
    evaluate.add_argument(
        "--arm",
        help="evaluate every decision in this arm of the bundle's experiments "
        "(experiment:arm, or an arm id; default: each customer in its own arm)",
    )
    evaluate.add_argument(
        "--window", type=_window, default="7d", help="how long a response may take (7d)"
    )
    evaluate.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    evaluate.add_argument("--seed", type=int, default=0, help="bootstrap seed")

    report = commands.add_parser(
        "report",
        help="an experiment's arms against control: terminal table and one HTML file",
    )
    report.add_argument(
        "--history", required=True, help="history directory, segment file, or redis://..."
    )
    report.add_argument("--experiment", help="only this experiment (default: every one)")
    report.add_argument(
        "--control",
        help="the control arm (default: an arm called control, else the one arm that "
        "never showed an offer)",
    )
    report.add_argument(
        "--window", type=_window, default="7d", help="how long a response may take (7d)"
    )
    report.add_argument(
        "--html", type=Path, default=Path("report.html"), help="HTML file (report.html)"
    )


def _history_parser(commands: Any) -> None:
    history = commands.add_parser("history", help="the interaction history")
    actions = history.add_subparsers(dest="history_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="join decisions with responses into a training table",
        description="One row per presented offer: the request's fields by path, offer.id, "
        "rank, the logged propensity, decision time, bundle version and the outcome "
        "(accepted 1; declined, ignored 0; discarded: row dropped).",
    )
    export.add_argument(
        "--source", required=True, help="history directory, or redis://... of the Redis sink"
    )
    export.add_argument("--out", type=Path, required=True, help="FILE.csv or FILE.parquet")
    export.add_argument("--since", type=_moment, help="ISO time (UTC if no offset)")
    export.add_argument("--until", type=_moment, help="ISO time (UTC if no offset)")
    export.add_argument(
        "--window", type=_window, default="7d", help="how long a response may take (7d)"
    )
    export.add_argument(
        "--unanswered",
        choices=["negative", "drop"],
        default="negative",
        help="a presented offer with no response in the window (default: negative)",
    )
    export.add_argument("--spec-out", type=Path, help="write a `nextbest train` spec here")
    export.add_argument("--quiet", action="store_true", help="no progress lines")


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: use an ISO time, e.g. 2026-11-01 or 2026-11-01T12:00:00+01:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _window(text: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: use <n>s, <n>m, <n>h or <n>d")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])


def _history(args: argparse.Namespace) -> int:
    from nextbest.history.export import export_history

    def say(text: str) -> None:
        if not args.quiet:
            print(text, file=sys.stderr)

    summary = export_history(
        args.source,
        args.out,
        since=args.since,
        until=args.until,
        window=args.window,
        unanswered=args.unanswered,
        spec_out=args.spec_out,
        progress=say,
    )
    print("\n".join(summary.lines()))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from nextbest.evaluation.evaluate import evaluate_bundle

    evaluation = evaluate_bundle(
        args.history,
        args.bundle,
        window=args.window,
        resamples=args.resamples,
        seed=args.seed,
        arm=args.arm,
    )
    print("\n".join(evaluation.lines()))
    return 0


def _report(args: argparse.Namespace) -> int:
    from nextbest.report.html import report_html
    from nextbest.report.report import build_report
    from nextbest.report.table import report_lines

    report = build_report(
        args.history, experiment=args.experiment, control=args.control, window=args.window
    )
    print("\n".join(report_lines(report)))
    try:
        args.html.write_text(report_html(report), encoding="utf-8")
    except OSError as exc:
        raise FieldError(str(args.html), None, exc.strerror or str(exc)) from exc
    print(f"wrote {args.html}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    overrides = {
        "NEXTBEST_HOST": args.host,
        "NEXTBEST_PORT": None if args.port is None else str(args.port),
        "NEXTBEST_WORKERS": None if args.workers is None else str(args.workers),
        "NEXTBEST_BUNDLE": None if args.bundle is None else str(args.bundle),
    }
    os.environ.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings.from_env()
    bundle = load_bundle(settings.bundle)  # refuse to start on a bad bundle, before binding
    check_history_settings(settings)
    import structlog

    from nextbest.logging import configure_logging
    from nextbest.server import run

    configure_logging(settings.log_format, settings.log_level)  # a JSON line where logs are
    structlog.get_logger("nextbest").info(
        "serving",
        version=__version__,
        bundle=bundle.name,
        bundle_version=bundle.version,
        url=f"http://{settings.host}:{settings.port}",
        docs="/schema",
    )

    return run(settings)


def _validate(path: Path) -> int:
    bundle = load_bundle(path)
    print(
        f"ok: {bundle.name} {bundle.version}: {len(bundle.offers)} offers, "
        f"{len(bundle.rules)} rules, {len(bundle.models)} models, "
        f"{len(bundle.policies.specs)} policies, {len(bundle.experiments.all)} experiments"
    )
    return 0


def _check_train_extra(command: str) -> None:
    """Training needs scikit-learn and skl2onnx (the `train` extra); serving does not."""
    from nextbest.training.errors import TrainingError  # imports nothing of the extra

    try:
        import skl2onnx  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise TrainingError(
            f"nextbest {command}",
            None,
            f"needs the train extra: pip install 'nextbest[train]' ({exc})",
        ) from exc


def _init(args: argparse.Namespace) -> int:
    _check_train_extra("init")
    from nextbest.training.scaffold import init_bundle

    bundle = load_bundle(init_bundle(args.dir, args.spec, args.data))
    print(
        f"wrote {args.dir}: {len(bundle.offers)} offers, a prior model; next: nextbest train "
        f"--data HISTORY --spec {args.dir / 'training' / args.spec.name} --out {args.dir}"
    )
    return 0


def _train(args: argparse.Namespace) -> int:
    _check_train_extra("train")
    from nextbest.training.progress import Progress
    from nextbest.training.train import train_model

    report = train_model(
        args.data,
        args.spec,
        args.out,
        seed=args.seed,
        family=args.family,
        progress=Progress(None if args.quiet else sys.stderr),
    )
    print("\n".join(report.lines()))
    return 0


def _train_demo(args: argparse.Namespace) -> int:
    _check_train_extra("train-demo")
    from nextbest.config import default_bundle_path
    from nextbest.training.demo import build_demo_models
    from nextbest.training.progress import Progress

    report = build_demo_models(
        args.bundle or default_bundle_path(),
        seed=args.seed,
        n_rows=args.rows,
        history=args.history,
        progress=Progress(None if args.quiet else sys.stderr),
    )
    print("\n".join(report.lines()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "validate":
            return _validate(args.bundle)
        if args.command == "seal":
            manifest = seal_bundle(args.bundle)
            print(f"sealed {len(manifest.files)} files into {args.bundle}/manifest.json")
            return 0
        if args.command == "init":
            return _init(args)
        if args.command == "train":
            return _train(args)
        if args.command == "history":
            return _history(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "report":
            return _report(args)
        return _train_demo(args)
    except FieldError as exc:  # a bundle, a setting, a spec, a history: named, no traceback
        print(f"nextbest: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
