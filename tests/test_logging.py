"""The JSON log lines: the timestamp (ISO 8601 in UTC to the microsecond, ending in Z), and
the info line written without structlog's processors."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import structlog
from structlog.testing import capture_logs

import nextbest.logging
from nextbest.log_context import bind_log_context, reset_log_context
from nextbest.logging import _UtcTimestamp, configure_logging, log_info

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_a_line_is_stamped_with_the_time_it_was_written() -> None:
    stamp = _UtcTimestamp()
    before = datetime.now(UTC)
    stamped = [stamp(None, "info", {})["timestamp"] for _ in range(3)]
    time.sleep(1.1)  # into another second: the cached date and time of day move on
    stamped.append(stamp(None, "info", {})["timestamp"])
    after = datetime.now(UTC)

    assert all(ISO_UTC.match(s) for s in stamped), stamped
    times = [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamped]
    assert before <= times[0] <= times[1] <= times[2] < times[3] <= after
    assert (times[3] - times[2]).total_seconds() >= 1.0


@pytest.fixture
def written(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> Iterator[Callable[[], list[dict[str, object]]]]:
    """The JSON lines written to stderr by the test (which calls `configure_logging`); the
    logging configuration is restored after it."""
    configured = structlog.get_config()
    monkeypatch.setattr(nextbest.logging, "_json_info_lines", nextbest.logging._json_info_lines)
    yield lambda: [json.loads(line) for line in capsysbinary.readouterr().err.splitlines()]
    structlog.configure(**configured)


@pytest.mark.parametrize("level", ["info", "warning"])
def test_the_direct_info_line_is_the_one_structlog_writes(
    written: Callable[[], list[dict[str, object]]], level: str
) -> None:
    configure_logging("json", level)
    logger = structlog.get_logger("test")
    fields = {"channel": "web", "offers": ["a", "b"], "dry_run": False, "rules_us": 7}
    token = bind_log_context(request_id="r-1", decision_id="d-1")
    try:
        logger.info("decision", **fields)
        log_info(logger, "decision", **fields)
    finally:
        reset_log_context(token)
    lines = written()
    if level == "warning":
        assert lines == []
        return
    by_structlog, direct = lines
    assert list(direct) == list(by_structlog)  # the same keys in the same order
    assert ISO_UTC.match(str(direct.pop("timestamp")))
    by_structlog.pop("timestamp")
    assert (
        direct
        == by_structlog
        == {
            "request_id": "r-1",
            "decision_id": "d-1",
            **fields,
            "event": "decision",
            "level": "info",
        }
    )


def test_under_capture_logs_the_info_line_goes_through_structlog(
    written: Callable[[], list[dict[str, object]]],
) -> None:
    configure_logging("json", "info")
    with capture_logs() as captured:
        log_info(structlog.get_logger("test"), "decision", channel="web")
    assert captured == [{"event": "decision", "channel": "web", "log_level": "info"}]
    assert written() == []
