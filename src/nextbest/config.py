"""Settings, read once from `NEXTBEST_*` environment variables and validated."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

__all__ = ["Settings", "SettingsError", "default_bundle_path"]

_PREFIX = "NEXTBEST_"


class SettingsError(Exception):
    """A setting that cannot be used; names the environment variable."""


def default_bundle_path() -> Path:
    """The demo bundle: shipped inside the wheel, or `models/` of a source checkout."""
    packaged = Path(__file__).parent / "demo_bundle"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "models" / "demo-energy"


def _to_path(kind: type, value: object) -> Path:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError


class Settings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    bundle: Path = msgspec.field(default_factory=default_bundle_path)
    """Directory of the decision bundle to serve."""
    host: str = "127.0.0.1"
    """Address to bind (use 0.0.0.0 in a container)."""
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    """Server worker processes."""
    log_format: Literal["auto", "json", "console"] = "auto"
    """`auto`: readable on a terminal, JSON lines otherwise."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024, le=10_485_760)] = 65_536
    """Larger request bodies are refused with 413."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        raw: dict[str, str] = {}
        for name in cls.__struct_fields__:
            value = environ.get(_PREFIX + name.upper())
            if value is not None and value != "":
                raw[name] = value
        try:
            return msgspec.convert(raw, type=cls, strict=False, dec_hook=_to_path)
        except msgspec.ValidationError as exc:
            message = str(exc)
            field = message.rpartition("$.")[2].rstrip("`")
            variable = _PREFIX + field.upper() if field in cls.__struct_fields__ else "NEXTBEST_*"
            raise SettingsError(f"{variable}: {message.partition(' - at')[0]}") from exc
