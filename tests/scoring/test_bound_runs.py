"""Categories coded at load and runs on bound buffers: the same propensities as text,
for one request or a batch, from several threads at once; graphs that cannot be coded
are fed text."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from nextbest.bundle import Bundle
from nextbest.bundle.offers import offer_facts
from nextbest.scoring import PropensityModel, open_session
from nextbest.scoring.recode import UNKNOWN_LEVEL, integer_coded
from nextbest.scoring.session import _session_options

_FILE = "models/propensity.onnx"


def _model_bytes(bundle: Bundle) -> bytes:
    return (bundle.path / _FILE).read_bytes()


def _inputs(model: PropensityModel) -> list[tuple[str, Any]]:
    return [(i.name, i.kind) for i in model.inputs]


def _categorical(model: PropensityModel) -> list[str]:
    return [i.name for i in model.inputs if i.kind == "categorical"]


def _facts(n: int) -> dict[str, object]:
    stages = ["new", "growing", "loyal", "at_risk", "lapsed", None, "unheard-of"]
    reasons = ["move_house", "complaint", None, "billing_question"]
    return {
        "customer.clv": [None, 0.0, 950.5, 4000.0][n % 4],
        "customer.attributes.tenure_months": n * 7 % 130,
        "customer.attributes.churn_score": (n % 10) / 10,
        "context.wait_time_s": None if n % 5 == 0 else float(n),
        "customer.lifecycle_stage": stages[n % len(stages)],
        "context.channel": ["call_center", "web"][n % 2],
        "context.call_reason": reasons[n % len(reasons)],
    }


def test_the_coded_graph_takes_codes_and_keeps_one_output(demo_bundle: Bundle) -> None:
    model = demo_bundle.models[0]
    coded = integer_coded(_model_bytes(demo_bundle), _categorical(model), "probabilities")
    assert coded is not None
    graph = onnx.load_model_from_string(coded.model).graph
    types = {i.name: i.type.tensor_type.elem_type for i in graph.input}
    assert {types[name] for name in _categorical(model)} == {TensorProto.INT64}
    assert types["clv"] == TensorProto.FLOAT
    assert [o.name for o in graph.output] == ["probabilities"]
    assert set(coded.codes["channel"]) >= {"call_center", "web"}
    assert UNKNOWN_LEVEL not in coded.codes["channel"].values()


def test_bound_runs_score_as_text_does(demo_bundle: Bundle) -> None:
    bound = demo_bundle.models[0]
    text = _text_twin(demo_bundle, _model_bytes(demo_bundle))
    assert bound.bound
    assert not text.bound
    facts = [_facts(n) for n in range(40)]
    singles = np.vstack([text.score(f) for f in facts])
    np.testing.assert_allclose(np.vstack([bound.score(f) for f in facts]), singles, atol=1e-7)
    for size in (2, 3, 16, 40):  # batch sizes, and again to reuse their buffers
        for _ in range(2):
            np.testing.assert_allclose(bound.score_many(facts[:size]), singles[:size], atol=1e-7)


def test_threads_do_not_share_buffers(demo_bundle: Bundle) -> None:
    model = demo_bundle.models[0]
    facts = [_facts(n) for n in range(12)]
    expected = [model.score(f) for f in facts]

    def score_all(offset: int) -> bool:
        for round_ in range(200):
            n = (offset + round_) % len(facts)
            if not np.array_equal(model.score(facts[n]), expected[n]):
                return False
        return True

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(score_all, range(4)))


def _read_twice(model: bytes, name: str) -> bytes:
    """The model with `name` also read by a node other than a one-hot encoder."""
    proto = onnx.load_model_from_string(model)
    proto.graph.node.append(helper.make_node("Identity", [name], [f"{name}_copy"]))
    proto.graph.output.append(
        helper.make_tensor_value_info(f"{name}_copy", TensorProto.STRING, [None, 1])
    )
    return proto.SerializeToString()


def _text_twin(bundle: Bundle, model: bytes) -> PropensityModel:
    """The bundle's model on `model`, opened as it is and fed text."""
    bound = bundle.models[0]
    offers = [bundle.offers[i] for i in bound.offer_indices]
    return PropensityModel(
        bound.id,
        ort.InferenceSession(model, _session_options()),
        bound.inputs,
        "probabilities",
        [o.index for o in offers],
        [offer_facts(o) for o in offers],
    )


def test_a_graph_that_reads_a_category_otherwise_is_fed_text(demo_bundle: Bundle) -> None:
    model = demo_bundle.models[0]
    other = _read_twice(_model_bytes(demo_bundle), "channel")
    assert integer_coded(other, _categorical(model), "probabilities") is None
    opened = open_session(other, _inputs(model), "probabilities")
    assert opened.codes is None
    text = _text_twin(demo_bundle, other)
    for n in range(10):
        np.testing.assert_allclose(text.score(_facts(n)), model.score(_facts(n)), atol=1e-7)


def test_bytes_that_are_not_onnx_are_not_coded() -> None:
    assert integer_coded(b"not a model", ["channel"], "probabilities") is None


def test_a_run_over_some_offers_scores_them_as_a_run_over_all(demo_bundle: Bundle) -> None:
    """Each request's own offers (its eligible ones), one request after the other in one
    run: bound buffers of every number of rows, and text, give the same scores."""
    bound = demo_bundle.models[0]
    text = _text_twin(demo_bundle, _model_bytes(demo_bundle))
    facts = [_facts(n) for n in range(12)]
    every = bound.score_many(facts)
    rng = np.random.default_rng(5)
    subsets = [
        np.sort(
            rng.choice(bound.all_rows, size=rng.integers(1, len(bound.all_rows) + 1), replace=False)
        )
        for _ in facts
    ]
    for model in (bound, text):
        for size in (1, 2, 5, 12):
            for _ in range(2):  # and again, on the buffers kept for that many rows
                rows = subsets[:size]
                scores = model.score_rows(facts[:size], rows)
                expected = np.concatenate([every[n][r] for n, r in enumerate(rows)])
                np.testing.assert_allclose(scores, expected, atol=1e-7)
        # the same buffers taking other offers: the offer columns are written again
        twice = model.score_rows([facts[0], facts[1]], [subsets[1], subsets[0]])
        np.testing.assert_allclose(
            twice, np.concatenate([every[0][subsets[1]], every[1][subsets[0]]]), atol=1e-7
        )
        np.testing.assert_allclose(
            model.score_rows(facts[:3], [model.all_rows] * 3).reshape(3, -1), every[:3], atol=1e-7
        )
