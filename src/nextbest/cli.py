"""`nextbest`: serve, validate, seal, train-demo."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from nextbest import __version__
from nextbest.bundle import BundleError, load_bundle, seal_bundle
from nextbest.config import Settings, SettingsError

__all__ = ["main"]


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

    train_demo = commands.add_parser(
        "train-demo", help="retrain the demo bundle's propensity model from synthetic history"
    )
    train_demo.add_argument("--bundle", type=Path, help="bundle directory (default: the demo)")
    train_demo.add_argument("--seed", type=int, default=20261123)
    return parser


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
    print(
        f"nextbest {__version__}: serving bundle {bundle.name} {bundle.version} "
        f"on http://{settings.host}:{settings.port} (docs: /schema)",
        file=sys.stderr,
    )
    from nextbest.server import run

    return run(settings)


def _validate(path: Path) -> int:
    bundle = load_bundle(path)
    print(
        f"ok: {bundle.name} {bundle.version}: {len(bundle.offers)} offers, "
        f"{len(bundle.rules)} rules, {len(bundle.models)} models, "
        f"{len(bundle.policies.specs)} policies"
    )
    return 0


def _train_demo(args: argparse.Namespace) -> int:
    from nextbest.config import default_bundle_path
    from nextbest.training.demo import build_demo_models

    root = args.bundle or default_bundle_path()
    report = build_demo_models(root, seed=args.seed)
    seal_bundle(root)
    print(report)
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
        return _train_demo(args)
    except (BundleError, SettingsError) as exc:
        print(f"nextbest: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
