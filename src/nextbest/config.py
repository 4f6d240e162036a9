"""Settings, read once from `NEXTBEST_*` environment variables and validated."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from nextbest.errors import FieldError
from nextbest.validation import split_validation_error

__all__ = ["Settings", "SettingsError", "default_bundle_path", "field_list"]

_PREFIX = "NEXTBEST_"
_OTEL_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
_MODE = r"(fail_closed|fail_open)"
_ORIGIN = r"(?:\*|https?://[A-Za-z0-9.\-\[\]:]+)"
_ORIGINS = rf"^(?:\s*{_ORIGIN}\s*(?:,\s*{_ORIGIN}\s*)*)?$"
_MODES = rf"^(?:[a-z][a-z0-9_]*=)?{_MODE}(?:,(?:[a-z][a-z0-9_]*=)?{_MODE})*$"


class SettingsError(FieldError):
    """A setting that cannot be used; `field` names the environment variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(None, variable, problem)


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
    redis_url: str = ""
    """Contact store: empty for the embedded per-process store, else e.g. redis://host:6379/0."""
    redis_cluster: bool = False
    """`redis_url` names a node of a Redis Cluster (and so does the history's Redis URL)."""
    redis_budget_ms: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10
    """The longest a decision waits on Redis before it degrades."""
    redis_wait_replicas: Annotated[int, msgspec.Meta(ge=0, le=16)] | None = None
    """A call that records (contacts, feedback) is acknowledged only once this many
    replicas have it (`WAIT`); unset: 1 on a Redis Cluster, 0 on one Redis."""
    max_in_flight: Annotated[int, msgspec.Meta(ge=1, le=4096)] = 8
    """Decisions a worker works on at once; the others wait for their turn, in arrival
    order, before they start. Redis runs the scripts of all the decisions in flight one
    after the other (and answers those it read together together): keep every worker's
    decisions in flight times Redis's time per script (about 0.1 ms) well under the
    budget."""
    queue_deadline_ms: Annotated[int, msgspec.Meta(ge=1, le=60_000)] = 250
    """A decision that waited longer than this for its turn is answered 503 with
    `Retry-After`."""
    degraded_mode: Annotated[str, msgspec.Meta(pattern=_MODES)] = "fail_closed"
    """When the contact store cannot answer: `fail_closed` (withhold capped offers, return
    the rest) or `fail_open` (return the ranking unchecked); per channel with
    `call_center=fail_closed,web=fail_open`, a bare mode being the default."""

    admin_token: Annotated[str, msgspec.Meta(min_length=16)] | None = None
    """Bearer token for `/admin/*`; without one the admin routes do not exist (404)."""
    watch_bundle: bool = False
    """Reload the bundle by itself when its directory changes."""
    watch_quiet_ms: Annotated[int, msgspec.Meta(ge=50, le=60_000)] = 1000
    """How long the bundle directory must be quiet before a watched change is reloaded."""
    shutdown_grace_s: Annotated[int, msgspec.Meta(ge=1, le=600)] = 20
    """On SIGTERM, how long in-flight requests may take to finish."""
    cors_origins: Annotated[str, msgspec.Meta(pattern=_ORIGINS)] = ""
    """Browser origins allowed to call the API (CORS), comma-separated, e.g.
    `https://shop.example.com,https://desk.example.com`; `*` for any; empty for none."""
    otel_endpoint: str | None = None
    """An OTLP/HTTP collector (`http://collector:4318`), also read from the standard
    `OTEL_EXPORTER_OTLP_ENDPOINT`: when set, one span per HTTP request is exported to it
    (needs `nextbest[otel]`)."""
    bench_floor: bool = False
    """Also serve `POST /bench/floor`, the trivial endpoint the benchmark compares with."""

    history_sink: Literal["file", "redis", "off"] = "file"
    """Where the interaction history goes: `file` (segments in `history_dir`), `redis`
    (Redis Streams on `history_redis_url`, default the contact store's Redis) or `off`."""
    history_dir: Path = Path("history")
    """The file sink's directory (relative paths are from the working directory)."""
    history_redis_url: str = ""
    """The Redis sink's server; empty: `redis_url`."""
    history_retention_days: Annotated[float, msgspec.Meta(gt=0, le=3660)] = 30.0
    """How long history is kept (file segments, Redis day streams)."""
    history_batch_ms: Annotated[int, msgspec.Meta(ge=10, le=60_000)] = 100
    """Records are written in one batch (one write, one fsync) this often; a crash loses at
    most this much."""
    history_queue_size: Annotated[int, msgspec.Meta(ge=100, le=10_000_000)] = 100_000
    """Records waiting to be written; past this they are dropped and counted."""
    history_segment_mb: Annotated[int, msgspec.Meta(ge=1, le=10_240)] = 64
    """A file segment is closed past this size ..."""
    history_segment_minutes: Annotated[int, msgspec.Meta(ge=1, le=10_080)] = 60
    """... or this age."""
    history_fields: str = ""
    """Comma-separated field paths a decision record keeps (empty: every field)."""
    history_exclude: str = ""
    """Comma-separated field paths a decision record never keeps (personal data)."""

    def wait_replicas(self) -> int:
        """`redis_wait_replicas`, or its default for the kind of Redis."""
        if self.redis_wait_replicas is not None:
            return self.redis_wait_replicas
        return 1 if self.redis_cluster else 0

    def degraded_modes(self) -> tuple[str, dict[str, str]]:
        """(default mode, mode per channel)."""
        default, per_channel = "fail_closed", {}
        for part in self.degraded_mode.split(","):
            channel, _, mode = part.strip().rpartition("=")
            if channel:
                per_channel[channel] = mode
            else:
                default = mode
        return default, per_channel

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        raw: dict[str, str] = {}
        for name in cls.__struct_fields__:
            value = environ.get(_PREFIX + name.upper())
            if value is not None and value != "":
                raw[name] = value
        if environ.get(_OTEL_ENDPOINT):
            raw.setdefault("otel_endpoint", environ[_OTEL_ENDPOINT])
        try:
            return msgspec.convert(raw, type=cls, strict=False, dec_hook=_to_path)
        except msgspec.ValidationError as exc:
            field, problem = split_validation_error(exc)
            variable = _PREFIX + field.upper() if field in cls.__struct_fields__ else "NEXTBEST_*"
            raise SettingsError(variable, problem) from exc


def field_list(text: str) -> frozenset[str]:
    """`customer.clv, context.call_reason` -> the set of paths."""
    return frozenset(part.strip() for part in text.split(",") if part.strip())
