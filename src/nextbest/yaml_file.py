"""Parsing a YAML file's bytes, with errors that name the file, the line and the column."""

from __future__ import annotations

from typing import Any

import yaml

from nextbest.errors import BundleError

__all__ = ["parse_yaml"]

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it (the wheels are): about ten times
faster than the pure-Python one, which was most of a bundle's load time and held the
GIL against the event loop during a hot reload."""


def parse_yaml(data: bytes, file: str, error: type[BundleError] = BundleError) -> Any:
    """The document in `data`; `error` (a BundleError) naming `file` and the position when
    it is not valid UTF-8 YAML."""
    try:
        return yaml.load(data.decode("utf-8"), Loader=_LOADER)  # noqa: S506  # a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise error(file, where, f"invalid YAML: {exc.problem}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise error(file, None, f"invalid YAML: {exc}") from exc
