"""``nextbest init DIR --spec SPEC [--data HISTORY]``: the smallest bundle a spec can be
trained into, valid and servable before any training.

* ``bundle.yaml``: the vocabulary (channels, call reasons, lifecycle stages) from the
  history's values where the spec feeds a model from those request fields (else a
  ``web`` channel), and every attribute the spec's sources name, with its kind;
* ``offers.yaml``: the spec's one offer (``offer.id``), or the offers found in the offer
  column, or one offer named as the model; each scored by the spec's model;
* ``models.yaml`` and ``models/ID.onnx``: a prior model with the spec's inputs that gives
  every row the history's acceptance rate (5 % without a history), until ``nextbest train``
  replaces it;
* empty rules, context weights and policies, each with commented examples;
* ``training/spec.yaml``: the spec, for the next ``nextbest train``.

Every problem (a value that cannot be a vocabulary word, an attribute name that breaks the
naming rule) is reported at once, and nothing is written then.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto, helper

from nextbest.bundle import load_bundle, seal_bundle
from nextbest.training.errors import TrainingError
from nextbest.training.export import OUTPUT_NAME, TARGET_OPSET
from nextbest.training.features import FeatureSpec
from nextbest.training.history import categorical_column, read_table
from nextbest.training.manifest import ModelEntry, render_manifest
from nextbest.training.preflight import TrainingProblemsError
from nextbest.training.spec import ATTRIBUTE_RULE, TrainingSpec, load_spec
from nextbest.training.train import outcome_column

__all__ = ["PRIOR_RATE", "init_bundle", "prior_model"]

PRIOR_RATE = 0.05
_WORD = re.compile(r"^[a-z][a-z0-9_]*$")
_VOCABULARY = {
    "context.channel": "channels",
    "context.call_reason": "call_reasons",
    "customer.lifecycle_stage": "lifecycle_stages",
}
_CATEGORIES = ("upsell", "cross_sell", "retention", "service")

_RULES = """\
# Eligibility rules: drop, require, pin or boost offers. Examples:
#   - id: no_sales_on_complaints
#     when: context.call_reason == "complaint"
#     then: drop
#     applies_to: {categories: [upsell, cross_sell]}
rules: []
"""
_WEIGHTS = """\
# Context weights: channel -> call reason -> offer category -> weight (default 1). Example:
#   call_center:
#     complaint: {upsell: 0.2, retention: 1.5}
{}
"""
_POLICIES = """\
# Contact policies. Examples:
#   - id: three_a_week
#     limit: 3
#     window: 7d
#   - id: back_off_after_decline
#     after: declined
#     pause: 14d
policies: []
"""


def prior_model(features: tuple[FeatureSpec, ...], rate: float, name: str) -> bytes:
    """An ONNX model with one input per feature whose ``probabilities`` are
    [1 - rate, rate] for every row."""
    inputs = [
        helper.make_tensor_value_info(
            f.name, TensorProto.FLOAT if f.kind == "numeric" else TensorProto.STRING, [None, 1]
        )
        for f in features
    ]
    output = helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None, 2])
    constants = [
        helper.make_tensor("prior", TensorProto.FLOAT, [1, 2], [1.0 - rate, rate]),
        helper.make_tensor("start", TensorProto.INT64, [1], [0]),
        helper.make_tensor("stop", TensorProto.INT64, [1], [1]),
        helper.make_tensor("two", TensorProto.INT64, [1], [2]),
    ]
    nodes = [
        helper.make_node("Shape", [features[0].name], ["shape"]),
        helper.make_node("Slice", ["shape", "start", "stop"], ["rows"]),
        helper.make_node("Concat", ["rows", "two"], ["out_shape"], axis=0),
        helper.make_node("Expand", ["prior", "out_shape"], [OUTPUT_NAME]),
    ]
    graph = helper.make_graph(nodes, name, inputs, [output], initializer=constants)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", TARGET_OPSET[""])], producer_name="nextbest"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data


def _yaml_list(values: list[str]) -> str:
    return "[" + ", ".join(values) + "]"


def _words(values: list[str], where: str, problems: list[TrainingError], file: str) -> list[str]:
    bad = [v for v in values if not _WORD.match(v)]
    if bad:
        problems.append(
            TrainingError(
                file,
                where,
                f"values {bad[:5]!r} cannot be vocabulary words (lower case: a letter, then "
                "letters, digits or _); map them in the history first",
            )
        )
    return [v for v in values if _WORD.match(v)]


def _attributes(spec: TrainingSpec, problems: list[TrainingError]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {"customer": {}, "context": {}}
    for f in spec.features:
        owner, _, rest = f.source.partition(".attributes.")
        if not rest or owner not in out:
            continue
        if not _WORD.match(rest):
            problems.append(
                TrainingError(
                    spec.file,
                    spec.fields[spec.column_of[f.name]],
                    f"attribute {rest!r} in {f.source!r}: {ATTRIBUTE_RULE}",
                )
            )
            continue
        out[owner][rest] = "number" if f.kind == "numeric" else "string"
    return out


def _from_history(
    spec: TrainingSpec, data: Path, problems: list[TrainingError]
) -> tuple[dict[str, list[str]], list[str], dict[str, str], float]:
    """Vocabulary, offer ids, each offer's category and the acceptance rate, as read."""
    by_source = {f.source: spec.column_of[f.name] for f in spec.features}
    wanted = [c for s, c in by_source.items() if s in _VOCABULARY or s == "offer.category"]
    if spec.offer_column is not None:
        wanted.append(spec.offer_column)
    table = read_table(data, {c: spec.fields[c] for c in [*dict.fromkeys(wanted), spec.outcome]})
    rate = float(outcome_column(table, spec).mean())
    vocabulary: dict[str, list[str]] = {}
    for source, key in _VOCABULARY.items():
        if source in by_source:
            values = sorted(set(categorical_column(table, by_source[source]).tolist()) - {""})
            where = f"column {by_source[source]!r}"
            vocabulary[key] = _words(values, where, problems, str(data))
    offers: list[str] = []
    categories: dict[str, str] = {}
    if spec.offer_column is not None:
        column = categorical_column(table, spec.offer_column)
        values = sorted(set(column.tolist()) - {""})
        offers = _words(values, f"column {spec.offer_column!r}", problems, str(data))
        if "offer.category" in by_source:
            category = categorical_column(table, by_source["offer.category"])
            for offer in offers:
                seen = sorted(set(category[column == offer].tolist()) & set(_CATEGORIES))
                if seen:
                    categories[offer] = seen[0]
    return vocabulary, offers, categories, rate


def _offers_yaml(
    ids: list[str], categories: dict[str, str], channels: list[str], model: str
) -> str:
    lines = [
        "# The offers the model scores; edit names, categories, values and channels.",
        "offers:",
    ]
    for offer in ids:
        lines += [
            f"  - id: {offer}",
            f"    name: {offer}",
            f"    category: {categories.get(offer, 'cross_sell')}",
            f"    channels: {_yaml_list(channels)}",
            "    value: 1.0",
            f"    model: {model}",
        ]
    return "\n".join(lines) + "\n"


def _bundle_yaml(
    name: str, vocabulary: dict[str, list[str]], attrs: dict[str, dict[str, str]]
) -> str:
    lines = [
        "# Written by `nextbest init`; edit freely, then `nextbest seal`.",
        f"name: {name}",
        'version: "0.1.0"',
        "vocabulary:",
        *(f"  {key}: {_yaml_list(values)}" for key, values in vocabulary.items()),
    ]
    for owner in ("customer", "context"):
        if attrs[owner]:
            lines.append(f"{owner}_attributes:")
            lines += [f"  {k}: {v}" for k, v in attrs[owner].items()]
    return "\n".join(lines) + "\n"


def init_bundle(target: Path, spec_path: Path, data: Path | None = None) -> Path:
    """Write the first bundle for ``spec_path`` into ``target`` (new or empty); returns it.

    Raises TrainingError naming every problem; nothing is written then.
    """
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise TrainingError(str(target), None, "exists and is not empty; init writes a new bundle")
    spec = load_spec(spec_path)
    problems: list[TrainingError] = []
    attributes = _attributes(spec, problems)
    vocabulary: dict[str, list[str]] = {}
    offers: list[str] = []
    categories: dict[str, str] = {}
    rate = PRIOR_RATE
    if data is not None:
        vocabulary, offers, categories, rate = _from_history(spec, data, problems)
    if spec.offer_id is not None:
        offers = [spec.offer_id]
    if not offers:
        offers = [spec.model_id]
    vocabulary["channels"] = vocabulary.get("channels") or ["web"]
    if problems:
        raise problems[0] if len(problems) == 1 else TrainingProblemsError(problems)

    model_file = f"models/{spec.model_id}.onnx"
    entry = ModelEntry(
        spec.model_id,
        model_file,
        OUTPUT_NAME,
        spec.features,
        {"family": "prior", "positive_rate": rate},
    )
    files: dict[str, Any] = {
        "bundle.yaml": _bundle_yaml(target.name or "bundle", vocabulary, attributes),
        "offers.yaml": _offers_yaml(offers, categories, vocabulary["channels"], spec.model_id),
        "rules.yaml": _RULES,
        "context_weights.yaml": _WEIGHTS,
        "policies.yaml": _POLICIES,
        "models.yaml": render_manifest([entry]),
        model_file: prior_model(spec.features, rate, spec.model_id),
    }
    created = not target.exists()
    try:
        for name, content in files.items():
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        (target / "training").mkdir(exist_ok=True)
        shutil.copyfile(spec_path, target / "training" / f"spec{spec_path.suffix.lower()}")
        seal_bundle(target)
        load_bundle(target)
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for child in target.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    return target
