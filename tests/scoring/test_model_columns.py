"""A model scores from columns it reuses across requests; the answers do not change."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort

from nextbest.bundle import Bundle
from nextbest.scoring import model as model_module


def _direct(bundle: Bundle, facts: dict[str, object]) -> np.ndarray[Any, Any]:
    """The same model run without the reused columns: every column built afresh."""
    scorer = bundle.models[0]
    session = ort.InferenceSession(str(bundle.path / "models" / "propensity.onnx"))
    offers = [bundle.offers[i] for i in scorer.offer_indices]
    feed = {}
    for model_input in scorer.inputs:
        if model_input.source.startswith("offer."):
            field = model_input.source.removeprefix("offer.")
            values = [getattr(o, field) for o in offers]
        else:
            values = [facts.get(model_input.source)] * len(offers)
        encoded = [model_module.encode(model_input.kind, v) for v in values]
        dtype = np.float32 if model_input.kind == "numeric" else np.object_
        feed[model_input.name] = np.asarray(encoded, dtype=dtype).reshape(-1, 1)
    probabilities = session.run(["probabilities"], feed)[0]
    return np.asarray(probabilities[:, 1], dtype=np.float64)


def _facts(stage: str, reason: str) -> dict[str, object]:
    return {
        "customer.clv": 1800.0,
        "customer.attributes.tenure_months": 30,
        "customer.attributes.churn_score": 0.4,
        "context.wait_time_s": 95.0,
        "customer.lifecycle_stage": stage,
        "context.channel": "call_center",
        "context.call_reason": reason,
    }


def test_reused_columns_score_like_fresh_ones(demo_bundle: Bundle) -> None:
    scorer = demo_bundle.models[0]
    for stage, reason in [
        ("loyal", "move_house"),
        ("at_risk", "contract_cancellation"),
        ("loyal", "billing_question"),
        ("loyal", "move_house"),  # the cached columns again
    ]:
        facts = _facts(stage, reason)
        np.testing.assert_allclose(scorer.score(facts), _direct(demo_bundle, facts), atol=1e-6)


def test_levels_kept_for_reuse_are_bounded(demo_bundle: Bundle) -> None:
    scorer = demo_bundle.models[0]
    for n in range(model_module._CACHED_LEVELS + 50):
        facts = _facts(f"free-text-{n}", "move_house")
        scores = scorer.score(facts)
        assert scores.shape == (len(scorer.offer_indices),)
    kept = scorer._levels["lifecycle_stage"]
    assert len(kept) == model_module._CACHED_LEVELS
    np.testing.assert_allclose(
        scorer.score(_facts("free-text-999", "move_house")),
        _direct(demo_bundle, _facts("free-text-999", "move_house")),
        atol=1e-6,
    )
