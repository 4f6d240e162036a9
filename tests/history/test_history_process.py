"""A real `nextbest serve`: a clean stop loses no record, a kill at most the last batch."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

import pytest
from _servers import RunningServer

from helpers import StartServer, decision_request
from nextbest.history.reader import HistoryReader
from nextbest.history.records import DecisionRecord


def _decide(base: str, n: int) -> str:
    body = {**decision_request(customer_id=f"C-p{n}", channel="web"), "dry_run": False}
    request = urllib.request.Request(
        f"{base}/v1/decisions",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        decision_id: str = json.loads(response.read())["decision_id"]
        return decision_id


def _recorded(directory: Path) -> tuple[list[str], int]:
    reader = HistoryReader(str(directory))
    ids = [r.decision_id for r in reader.records() if isinstance(r, DecisionRecord)]
    return ids, reader.skipped


def _server(start_server: StartServer, directory: Path) -> RunningServer:
    return start_server(
        env={"NEXTBEST_HISTORY_DIR": str(directory), "NEXTBEST_HISTORY_BATCH_MS": "100"}
    )


@pytest.mark.slow
def test_sigterm_flushes_every_record(start_server: StartServer, tmp_path: Path) -> None:
    server = _server(start_server, tmp_path / "history")
    sent = [_decide(server.base, n) for n in range(60)]
    assert server.stop() == 0
    recorded, skipped = _recorded(tmp_path / "history")
    assert recorded == sent
    assert skipped == 0


@pytest.mark.slow
def test_sigkill_loses_at_most_the_last_batch_interval(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = _server(start_server, tmp_path / "history")
    settled = [_decide(server.base, n) for n in range(40)]
    time.sleep(0.5)  # several batch intervals: these must be on disk
    last = [_decide(server.base, n) for n in range(40, 45)]
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    recorded, skipped = _recorded(tmp_path / "history")
    assert recorded[: len(settled)] == settled
    assert set(recorded[len(settled) :]) <= set(last)
    assert skipped <= 1


@pytest.mark.slow
def test_an_unwritable_history_directory_stops_start_up(
    start_server: StartServer, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    server = start_server(env={"NEXTBEST_HISTORY_DIR": str(blocker / "history")}, ready=False)
    assert server.process.wait(timeout=30) == 2
    output = server.output()
    assert "NEXTBEST_HISTORY_DIR" in output
    assert "Traceback" not in output
