"""A real `nextbest serve`: a clean stop loses no record, a kill at most the last batch."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import decision_request, free_port, serve, wait_ready
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


@contextmanager
def _server(directory: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    with log.open("w") as out:
        process = serve(
            "--port",
            str(port),
            env={"NEXTBEST_HISTORY_DIR": str(directory), "NEXTBEST_HISTORY_BATCH_MS": "100"},
            log=out,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, process)
            yield base, process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@pytest.mark.slow
def test_sigterm_flushes_every_record(tmp_path: Path) -> None:
    with _server(tmp_path / "history", tmp_path / "server.log") as (base, process):
        sent = [_decide(base, n) for n in range(60)]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    recorded, skipped = _recorded(tmp_path / "history")
    assert recorded == sent
    assert skipped == 0


@pytest.mark.slow
def test_sigkill_loses_at_most_the_last_batch_interval(tmp_path: Path) -> None:
    with _server(tmp_path / "history", tmp_path / "server.log") as (base, process):
        settled = [_decide(base, n) for n in range(40)]
        time.sleep(0.5)  # several batch intervals: these must be on disk
        last = [_decide(base, n) for n in range(40, 45)]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    recorded, skipped = _recorded(tmp_path / "history")
    assert recorded[: len(settled)] == settled
    assert set(recorded[len(settled) :]) <= set(last)
    assert skipped <= 1


@pytest.mark.slow
def test_an_unwritable_history_directory_stops_start_up(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    process = serve(
        "--port", str(free_port()), env={"NEXTBEST_HISTORY_DIR": str(blocker / "history")}
    )
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "NEXTBEST_HISTORY_DIR" in stderr
    assert "Traceback" not in stderr
