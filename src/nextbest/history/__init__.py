"""The interaction history: every decision and every response, kept durably, and the way
back from it to a training table."""

from nextbest.history.records import (
    SCHEMA_VERSION,
    DecisionRecord,
    OfferShown,
    Record,
    ResponseRecord,
)

__all__ = ["SCHEMA_VERSION", "DecisionRecord", "OfferShown", "Record", "ResponseRecord"]
