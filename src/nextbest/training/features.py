"""The model features: what each ONNX input is called and where its value comes from.

``source`` is a dotted path into a decision request (``customer.*``, ``context.*``)
or into the offer being scored (``offer.*``). The order of ``DEMO_FEATURES`` is the
order of the ONNX inputs and of the ``inputs`` list in ``models.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEMO_FEATURES",
    "FeatureKind",
    "FeatureSpec",
    "categorical_features",
    "numeric_features",
]

FeatureKind = Literal["numeric", "categorical"]


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One model input: a float32 (numeric) or string (categorical) column of shape [N, 1]."""

    name: str
    source: str
    kind: FeatureKind


DEMO_FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("clv", "customer.clv", "numeric"),
    FeatureSpec("lifecycle_stage", "customer.lifecycle_stage", "categorical"),
    FeatureSpec("tenure_months", "customer.attributes.tenure_months", "numeric"),
    FeatureSpec("churn_score", "customer.attributes.churn_score", "numeric"),
    FeatureSpec("channel", "context.channel", "categorical"),
    FeatureSpec("call_reason", "context.call_reason", "categorical"),
    FeatureSpec("wait_time_s", "context.wait_time_s", "numeric"),
    FeatureSpec("offer_id", "offer.id", "categorical"),
    FeatureSpec("category", "offer.category", "categorical"),
)


def numeric_features(features: tuple[FeatureSpec, ...]) -> tuple[FeatureSpec, ...]:
    """The numeric features, in input order."""
    return tuple(f for f in features if f.kind == "numeric")


def categorical_features(features: tuple[FeatureSpec, ...]) -> tuple[FeatureSpec, ...]:
    """The categorical features, in input order."""
    return tuple(f for f in features if f.kind == "categorical")
