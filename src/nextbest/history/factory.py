"""Choosing the history sink from the settings, and checking it before the server starts."""

from __future__ import annotations

import os
import tempfile

from nextbest.config import Settings, SettingsError, field_list
from nextbest.history.build import FieldFilter
from nextbest.history.file_sink import FileSink
from nextbest.history.sink import HistorySink
from nextbest.history.writer import HistoryWriter
from nextbest.metrics import count_history_dropped, count_history_written

__all__ = ["check_history_settings", "field_filter", "open_history"]


def _sink(settings: Settings) -> HistorySink | None:
    if settings.history_sink == "off":
        return None
    if settings.history_sink == "redis":
        from nextbest.history.redis_sink import RedisStreamSink

        url = settings.history_redis_url or settings.redis_url
        if not url:
            raise SettingsError(
                "NEXTBEST_HISTORY_REDIS_URL", "the redis history sink needs a Redis URL"
            )
        return RedisStreamSink.from_url(
            url, retention_days=settings.history_retention_days, cluster=settings.redis_cluster
        )
    return FileSink(
        settings.history_dir,
        max_bytes=settings.history_segment_mb * 1024 * 1024,
        max_age_s=settings.history_segment_minutes * 60.0,
        retention_days=settings.history_retention_days,
    )


def open_history(settings: Settings) -> HistoryWriter | None:
    """The writer the settings ask for (not yet started), or None when history is off."""
    sink = _sink(settings)
    if sink is None:
        return None
    return HistoryWriter(
        sink,
        capacity=settings.history_queue_size,
        interval_s=settings.history_batch_ms / 1000,
        on_drop=count_history_dropped,
        on_written=count_history_written,
    )


def field_filter(settings: Settings) -> FieldFilter:
    return FieldFilter(field_list(settings.history_fields), field_list(settings.history_exclude))


def check_history_settings(settings: Settings) -> None:
    """A clear SettingsError, before the server starts, for a history directory that
    cannot be created or written."""
    if settings.history_sink != "file":
        return
    directory = settings.history_dir
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-check-") as probe:
            probe.write(b"\n")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise SettingsError(
            "NEXTBEST_HISTORY_DIR", f"{directory} cannot be written: {exc.strerror or exc}"
        ) from exc
