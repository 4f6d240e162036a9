"""A model scores from columns it reuses across requests; the answers do not change.

The demo model's categories are coded at load (bound buffers); the same model fed text
(the path of a graph that cannot be coded) must score alike."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort

from nextbest.bundle import Bundle
from nextbest.bundle.offers import offer_facts
from nextbest.scoring import PropensityModel
from nextbest.scoring.inputs import encode
from nextbest.scoring.session import _session_options

_MODEL_FILE = "models/propensity.onnx"


def _text_fed(bundle: Bundle) -> PropensityModel:
    """The demo model, its session taking the categories as text."""
    bound = bundle.models[0]
    session = ort.InferenceSession(str(bundle.path / _MODEL_FILE), _session_options())
    offers = [bundle.offers[i] for i in bound.offer_indices]
    return PropensityModel(
        bound.id,
        session,
        bound.inputs,
        "probabilities",
        [o.index for o in offers],
        [offer_facts(o) for o in offers],
    )


def _direct(bundle: Bundle, facts: dict[str, object]) -> np.ndarray[Any, Any]:
    """The same model run without the reused columns: every column built afresh."""
    scorer = bundle.models[0]
    session = ort.InferenceSession(str(bundle.path / _MODEL_FILE))
    offers = [bundle.offers[i] for i in scorer.offer_indices]
    feed = {}
    for model_input in scorer.inputs:
        if model_input.source.startswith("offer."):
            field = model_input.source.removeprefix("offer.")
            values = [getattr(o, field) for o in offers]
        else:
            values = [facts.get(model_input.source)] * len(offers)
        encoded = [encode(model_input.kind, v) for v in values]
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


def test_the_demo_model_runs_on_bound_buffers(demo_bundle: Bundle) -> None:
    assert demo_bundle.models[0].bound
    assert not _text_fed(demo_bundle).bound


def test_reused_columns_score_like_fresh_ones(demo_bundle: Bundle) -> None:
    for scorer in (demo_bundle.models[0], _text_fed(demo_bundle)):
        _scores_like_fresh_columns(demo_bundle, scorer)


def _scores_like_fresh_columns(demo_bundle: Bundle, scorer: PropensityModel) -> None:
    for stage, reason in [
        ("loyal", "move_house"),
        ("at_risk", "contract_cancellation"),
        ("loyal", "billing_question"),
        ("loyal", "move_house"),  # the cached columns again
        ("free-text", "move_house"),  # a level the model does not know
    ]:
        facts = _facts(stage, reason)
        np.testing.assert_allclose(scorer.score(facts), _direct(demo_bundle, facts), atol=1e-6)
