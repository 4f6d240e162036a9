"""Contact pressure: policies (what a cap means) apart from the stores that count."""

from nextbest.pressure.memory import MemoryContactStore
from nextbest.pressure.policy import ContactPolicies, Outcome, compile_policies, read_policies
from nextbest.pressure.store import ContactStore, StoreUnavailableError
from nextbest.pressure.types import Cap, CapCandidate, DeclineCounter, FeedbackEffect, Selection

__all__ = [
    "Cap",
    "CapCandidate",
    "ContactPolicies",
    "ContactStore",
    "DeclineCounter",
    "FeedbackEffect",
    "MemoryContactStore",
    "Outcome",
    "Selection",
    "StoreUnavailableError",
    "compile_policies",
    "read_policies",
]
