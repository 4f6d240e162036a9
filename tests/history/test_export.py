"""`nextbest history export`: the join, the outcomes, the window, the files it writes."""

from __future__ import annotations

import asyncio
import csv
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from history_records import T0, decision
from nextbest.cli import main
from nextbest.history.export import export_history
from nextbest.history.file_sink import FileSink
from nextbest.history.records import (
    DecisionRecord,
    OfferShown,
    Record,
    ResponseRecord,
    encode_record,
)


def _shown(decision_id: str, offers: list[str], minutes: int) -> DecisionRecord:
    base = decision(0)
    return DecisionRecord(
        decision_id=decision_id,
        at=T0 + timedelta(minutes=minutes),
        bundle_name=base.bundle_name,
        bundle_version="7",
        customer_id=f"C-{decision_id}",
        channel="web",
        fields={"customer.clv": 10.0 * minutes, "context.call_reason": "billing"},
        offers=[
            OfferShown(
                offer_id=o, rank=i + 1, category="upsell", propensity=0.2, priority=1.0, value=5.0
            )
            for i, o in enumerate(offers)
        ],
    )


def _answer(decision_id: str, offer: str, outcome: str, minutes: int) -> ResponseRecord:
    at = T0 + timedelta(minutes=minutes)
    return ResponseRecord(
        decision_id=decision_id,
        offer_id=offer,
        customer_id=f"C-{decision_id}",
        channel="web",
        outcome=outcome,  # type: ignore[arg-type]
        occurred_at=at,
        received_at=at,
        key=f"{decision_id}:{offer}:{outcome}",
    )


def _history(directory: Path, records: list[Record]) -> Path:
    async def write() -> None:
        sink = FileSink(directory)
        await sink.open()
        await sink.write([encode_record(r) for r in records])
        await sink.aclose()

    asyncio.run(write())
    return directory


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return _history(
        tmp_path / "history",
        [
            _shown("d1", ["a", "b", "c"], 0),
            _answer("d1", "a", "presented", 1),
            _answer("d1", "a", "accepted", 2),
            _answer("d1", "b", "declined", 2),
            _answer("d1", "c", "discarded", 3),
            _shown("d2", ["a", "b"], 10),
            _answer("d2", "b", "ignored", 11),
            _shown("d3", ["a"], 20),
            _answer("d3", "a", "accepted", 200),  # after a 60-minute window
            _shown("d4", ["b"], 300),
        ],
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as lines:
        return list(csv.DictReader(lines))


def test_outcomes_follow_the_documented_mapping(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "table.csv"
    summary = export_history(str(history), out, window=timedelta(minutes=60))
    rows = {(r["decision_id"], r["offer.id"]): r["outcome"] for r in _rows(out)}
    assert rows == {
        ("d1", "a"): "1",
        ("d1", "b"): "0",
        ("d2", "a"): "0",
        ("d2", "b"): "0",
        ("d3", "a"): "0",
        ("d4", "b"): "0",
    }
    assert (summary.rows, summary.positives, summary.dropped_discarded) == (6, 1, 1)
    assert summary.late_responses == 1


def test_unanswered_offers_can_be_dropped(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "table.csv"
    export_history(str(history), out, window=timedelta(minutes=60), unanswered="drop")
    rows = {(r["decision_id"], r["offer.id"]): r["outcome"] for r in _rows(out)}
    assert rows == {("d1", "a"): "1", ("d1", "b"): "0", ("d2", "b"): "0"}


def test_columns_are_field_paths_and_parquet_matches_csv(history: Path, tmp_path: Path) -> None:
    csv_out, parquet_out = tmp_path / "t.csv", tmp_path / "t.parquet"
    export_history(str(history), csv_out, window=timedelta(minutes=60))
    export_history(str(history), parquet_out, window=timedelta(minutes=60))
    rows = _rows(csv_out)
    assert {"customer.clv", "context.call_reason", "offer.id", "rank", "logged_propensity"} <= set(
        rows[0]
    )
    table = pq.read_table(parquet_out).to_pylist()
    assert [r["outcome"] for r in table] == [int(r["outcome"]) for r in rows]
    assert [r["customer.clv"] for r in table] == [float(r["customer.clv"]) for r in rows]
    assert rows[0]["bundle_version"] == "7"


def test_the_command_writes_a_spec_for_the_exported_columns(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, spec = tmp_path / "t.csv", tmp_path / "spec.yaml"
    code = main(
        [
            "history", "export", "--source", str(history), "--out", str(out),
            "--window", "60m", "--spec-out", str(spec), "--quiet",
        ]
    )  # fmt: skip
    assert code == 0
    assert "rows 6 (1 accepted)" in capsys.readouterr().out
    written = yaml.safe_load(spec.read_text())
    assert written["offer"] == {"column": "offer.id"}
    assert written["outcome"] == {"column": "outcome"}
    assert written["features"]["numeric"] == {"customer.clv": "customer.clv"}
    assert written["features"]["categorical"]["context.call_reason"] == "context.call_reason"


@pytest.mark.parametrize(
    ("source", "out", "named"),
    [
        ("missing", "t.csv", "not a history directory"),
        ("history", "no/such/dir/t.csv", "No such file or directory"),
    ],
)
def test_a_bad_source_or_output_is_named_without_a_traceback(
    history: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    source: str,
    out: str,
    named: str,
) -> None:
    argv = ["history", "export", "--source", str(tmp_path / source), "--out", str(tmp_path / out)]
    assert main([*argv, "--quiet"]) == 2
    error = capsys.readouterr().err
    assert named in error
    assert "Traceback" not in error
