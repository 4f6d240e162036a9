"""`nextbest history export`: decisions joined with their responses into the table that
`nextbest train` reads, one row per presented offer.

The join streams: records come in time order, a decision waits in memory only until its
response window has passed, so memory depends on the traffic within one window, not on
the length of the history. Two passes: the first finds the columns, the second writes.

Outcome: `accepted` -> 1; `declined`, `ignored` -> 0; `discarded` -> the row is dropped;
no response within the window -> 0 (`unanswered="negative"`) or dropped (`"drop"`).
Decisions whose window had not passed when the history ends count as unanswered unless
a response arrived: export with `until` a window before the end to leave them out.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml
from redis.exceptions import RedisError

from nextbest.errors import FieldError
from nextbest.history.reader import HistoryReader
from nextbest.history.records import DecisionRecord, ResponseRecord

__all__ = [
    "ExportSummary",
    "JoinedDecision",
    "Row",
    "export_history",
    "joined_decisions",
    "joined_rows",
]

Unanswered = Literal["negative", "drop"]
META_COLUMNS = (
    "decision_id",
    "decided_at",
    "bundle_version",
    "customer_id",
    "experiment",
    "arm",
    "offer.id",
    "offer.category",
    "rank",
    "propensity",
    "logged_propensity",
)
OUTCOME_COLUMN = "outcome"
_POSITIVE = {"accepted"}
_NEGATIVE = {"declined", "ignored"}

Row = dict[str, Any]


@dataclass
class ExportSummary:
    decisions: int = 0
    responses: int = 0
    rows: int = 0
    positives: int = 0
    dropped_discarded: int = 0
    dropped_unanswered: int = 0
    late_responses: int = 0
    skipped_lines: int = 0
    columns: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"decisions {self.decisions}, responses {self.responses}, "
            f"rows {self.rows} ({self.positives} accepted)",
            f"dropped rows: {self.dropped_discarded} discarded, "
            f"{self.dropped_unanswered} unanswered; responses after the window or without "
            f"their decision: {self.late_responses}; lines skipped: {self.skipped_lines}",
        ]


@dataclass
class _Pending:
    record: DecisionRecord
    outcomes: dict[str, str] = field(default_factory=dict)


def _outcome(seen: str | None) -> int | Literal["discarded"] | None:
    if seen == "discarded":
        return "discarded"
    if seen in _POSITIVE:
        return 1
    if seen in _NEGATIVE:
        return 0
    return None


_PRECEDENCE = {"presented": 0, "ignored": 1, "declined": 2, "accepted": 3, "discarded": 4}
"""Of several responses to one offer: a discard overrides everything, an accept a decline;
`presented` is no outcome."""


def _merge(previous: str | None, outcome: str) -> str:
    if previous is None or _PRECEDENCE[outcome] > _PRECEDENCE[previous]:
        return outcome
    return previous


class JoinedDecision(NamedTuple):
    """A decision and the outcome of each offer it showed, by offer id: 1 accepted,
    0 declined or ignored, "discarded", or None (no response within the window)."""

    record: DecisionRecord
    outcomes: dict[str, int | Literal["discarded"] | None]


def joined_decisions(
    reader: HistoryReader, window: timedelta, summary: ExportSummary
) -> Iterator[JoinedDecision]:
    """Every decision (those that showed nothing included) with its offers' outcomes."""
    pending: dict[str, _Pending] = {}

    def joined(item: _Pending) -> JoinedDecision:
        return JoinedDecision(
            item.record,
            {o.offer_id: _outcome(item.outcomes.get(o.offer_id)) for o in item.record.offers},
        )

    for record in reader.records():
        if isinstance(record, DecisionRecord):
            summary.decisions += 1
            while pending:
                oldest = next(iter(pending.values()))
                if oldest.record.at + window >= record.at:
                    break
                del pending[oldest.record.decision_id]
                yield joined(oldest)
            pending[record.decision_id] = _Pending(record)
        elif isinstance(record, ResponseRecord):
            summary.responses += 1
            item = pending.get(record.decision_id)
            if item is None or record.occurred_at > item.record.at + window:
                summary.late_responses += 1
                continue
            item.outcomes[record.offer_id] = _merge(
                item.outcomes.get(record.offer_id), record.outcome
            )
    for item in pending.values():
        yield joined(item)
    summary.skipped_lines = reader.skipped


def joined_rows(
    reader: HistoryReader,
    window: timedelta,
    unanswered: Unanswered,
    summary: ExportSummary,
) -> Iterator[Row]:
    for decision, outcomes in joined_decisions(reader, window, summary):
        for offer in decision.offers:
            outcome = outcomes[offer.offer_id]
            if outcome == "discarded":
                summary.dropped_discarded += 1
                continue
            if outcome is None:
                if unanswered == "drop":
                    summary.dropped_unanswered += 1
                    continue
                outcome = 0
            summary.rows += 1
            summary.positives += outcome
            yield {
                **decision.fields,
                "decision_id": decision.decision_id,
                "decided_at": decision.at.isoformat(),
                "bundle_version": decision.bundle_version,
                "customer_id": decision.customer_id,
                "experiment": decision.experiment,
                "arm": decision.arm,
                "offer.id": offer.offer_id,
                "offer.category": offer.category,
                "rank": offer.rank,
                "propensity": offer.propensity,
                "logged_propensity": offer.logged_propensity,
                OUTCOME_COLUMN: outcome,
            }


PROGRESS_EVERY = 250_000


def _counted(rows: Iterator[Row], say: Callable[[str], None]) -> Iterator[Row]:
    """`rows` as they are, with a progress line every PROGRESS_EVERY rows."""
    for count, row in enumerate(rows, start=1):
        if count % PROGRESS_EVERY == 0:
            say(f"  {count:,} rows")
        yield row


def _columns(rows: Iterator[Row]) -> tuple[list[str], dict[str, str]]:
    """Every column, and the kind of each field column (number, string, boolean)."""
    kinds: dict[str, str] = {}
    for row in rows:
        for name, value in row.items():
            if value is None or name in kinds:
                continue
            if isinstance(value, bool):
                kinds[name] = "boolean"
            elif isinstance(value, int | float):
                kinds[name] = "number"
            else:
                kinds[name] = "string_list" if isinstance(value, list) else "string"
    fields = sorted(k for k in kinds if k not in META_COLUMNS and k != OUTCOME_COLUMN)
    return [*META_COLUMNS, *fields, OUTCOME_COLUMN], kinds


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(value)
    return value


def _write_csv(path: Path, columns: list[str], rows: Iterator[Row]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if (v := row.get(c)) is None else _cell(v) for c in columns])


def _write_parquet(
    path: Path, columns: list[str], kinds: dict[str, str], rows: Iterator[Row]
) -> None:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    types = {
        "number": pa.float64(),
        "boolean": pa.bool_(),
        "string": pa.string(),
        "string_list": pa.string(),
    }
    schema = pa.schema(
        [
            (c, pa.int64() if c in ("rank", OUTCOME_COLUMN) else types[kinds.get(c, "string")])
            for c in columns
        ]
    )
    with pq.ParquetWriter(path, schema) as writer:
        batch: list[Row] = []

        def flush() -> None:
            data = {c: [_cell(r.get(c)) for r in batch] for c in columns}
            writer.write_table(pa.table(data, schema=schema))
            batch.clear()

        for row in rows:
            batch.append(row)
            if len(batch) >= 50_000:
                flush()
        if batch:
            flush()


def training_spec(kinds: dict[str, str], model_id: str = "propensity") -> dict[str, Any]:
    """A `nextbest train` spec for the exported columns: the request's number fields as
    numeric features, its string fields and the offer's category as categorical ones
    (lists and booleans are left out: a model input is a number or a string),
    `offer.id` as the offer, `outcome` as the outcome."""
    numeric = {}
    categorical = {}
    for name, kind in sorted(kinds.items()):
        if name in META_COLUMNS or name == OUTCOME_COLUMN or name == "customer.id":
            continue
        if not name.startswith(("customer.", "context.")):
            continue
        if kind == "number":
            numeric[name] = name
        elif kind == "string":
            categorical[name] = name
    categorical["offer.category"] = "offer.category"
    return {
        "model": {"id": model_id},
        "outcome": {"column": OUTCOME_COLUMN},
        "offer": {"column": "offer.id"},
        "features": {"numeric": numeric, "categorical": categorical},
    }


def export_history(
    source: str,
    out: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    window: timedelta = timedelta(days=7),
    unanswered: Unanswered = "negative",
    spec_out: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> ExportSummary:
    say = progress or (lambda _text: None)

    def rows(summary: ExportSummary) -> Iterator[Row]:
        return _counted(
            joined_rows(HistoryReader(source, since, until), window, unanswered, summary), say
        )

    if "://" not in source and not Path(source).is_dir():
        raise FieldError(source, None, "not a history directory (nor a redis:// URL)")
    try:
        say("finding the columns")
        columns, kinds = _columns(rows(ExportSummary()))
        summary = ExportSummary(columns=columns)
        say(f"writing {out}")
        if out.suffix == ".parquet":
            _write_parquet(out, columns, kinds, rows(summary))
        else:
            _write_csv(out, columns, rows(summary))
        if spec_out is not None:
            spec_out.write_text(yaml.safe_dump(training_spec(kinds), sort_keys=False))
    except OSError as exc:
        raise FieldError(exc.filename or str(out), None, exc.strerror or str(exc)) from exc
    except RedisError as exc:
        raise FieldError(source, None, f"cannot read the history streams: {exc}") from exc
    return summary
