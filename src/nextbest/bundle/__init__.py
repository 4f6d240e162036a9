"""Decision bundles: read, validate and compile a versioned directory into one Bundle."""

from nextbest.bundle.bundle import Bundle, ContextWeights, Offer, Rule, RuleAction
from nextbest.bundle.loader import load_bundle
from nextbest.bundle.offers import offer_facts
from nextbest.bundle.seal import seal_bundle
from nextbest.errors import BundleError
from nextbest.fields import FieldKind, known_fields

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
