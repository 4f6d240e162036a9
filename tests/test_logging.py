"""The JSON log line's timestamp: ISO 8601 in UTC to the microsecond, ending in Z."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from nextbest.logging import _UtcTimestamp

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
