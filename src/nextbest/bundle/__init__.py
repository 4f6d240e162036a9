"""Decision bundles: read, validate and compile a versioned directory into one Bundle."""

from nextbest.bundle.bundle import Bundle, ContextWeights, Offer, Rule, RuleAction
from nextbest.bundle.errors import BundleError
from nextbest.bundle.fields import FieldKind, known_fields
from nextbest.bundle.loader import load_bundle, offer_facts
from nextbest.bundle.seal import seal_bundle

__all__ = [
    "Bundle",
    "BundleError",
    "ContextWeights",
    "FieldKind",
    "Offer",
    "Rule",
    "RuleAction",
    "known_fields",
    "load_bundle",
    "offer_facts",
    "seal_bundle",
]
