"""What the application hands the history: finished decisions and accepted feedback."""

from __future__ import annotations

from nextbest.decide.values import Decision
from nextbest.history.build import FieldFilter, decision_record
from nextbest.history.records import ResponseRecord
from nextbest.history.writer import HistoryWriter

__all__ = ["HistoryRecorder"]


class HistoryRecorder:
    def __init__(self, writer: HistoryWriter, keep: FieldFilter) -> None:
        self.writer = writer
        self._keep = keep

    def decision(self, decision: Decision, bundle_name: str) -> None:
        """Queue the decision's record unless it was a dry run."""
        if not decision.ranking.request.dry_run:
            self.writer.submit(decision_record(decision, bundle_name, self._keep))

    def response(self, record: ResponseRecord) -> None:
        self.writer.submit(record)

    @property
    def degraded(self) -> bool:
        return self.writer.degraded
