"""Reading a bundle directory into a validated, compiled, immutable Bundle.

Every problem is raised as a BundleError naming the file and the field; nothing is
half-loaded.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

from nextbest.bundle._schema import (
    BundleFile,
    Category,
    ContextWeightsFile,
    ManifestFile,
    ModelsFile,
    OffersFile,
    OfferSpec,
    PoliciesFile,
    RulesFile,
    Selector,
)
from nextbest.bundle.bundle import Bundle, ContextWeights, Offer, Rule
from nextbest.bundle.errors import BundleError
from nextbest.bundle.fields import FieldKind, known_fields
from nextbest.bundle.manifest import MANIFEST_NAME, verify_manifest
from nextbest.pressure.policy import ContactPolicies, PolicyError, compile_policies
from nextbest.rules import ExpressionError, Value, compile_expression
from nextbest.scoring import ModelFileError, ModelInput, PropensityModel, open_session

__all__ = [
    "BUNDLE_FILES",
    "load_bundle",
    "offer_facts",
    "read_bundle_file",
    "read_models_file",
    "read_offers_file",
    "referenced_files",
]

BUNDLE_FILE = "bundle.yaml"
OFFERS_FILE = "offers.yaml"
RULES_FILE = "rules.yaml"
WEIGHTS_FILE = "context_weights.yaml"
POLICIES_FILE = "policies.yaml"
MODELS_FILE = "models.yaml"
BUNDLE_FILES = (BUNDLE_FILE, OFFERS_FILE, RULES_FILE, WEIGHTS_FILE, POLICIES_FILE, MODELS_FILE)
_OPTIONAL = {RULES_FILE, WEIGHTS_FILE, POLICIES_FILE, MODELS_FILE}
_WEIGHTED_FIELDS = {
    "call_reason": "call_reasons",
    "lifecycle_stage": "lifecycle_stages",
    "channel": "channels",
}
_CATEGORIES: tuple[Category, ...] = ("upsell", "cross_sell", "retention", "service")
_MSGSPEC_PATH = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)

T = TypeVar("T")


def _read_yaml(root: Path, name: str) -> Any:
    path = root / name
    if not path.is_file():
        if name in _OPTIONAL:
            return None
        raise BundleError(name, None, "file is missing")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise BundleError(name, where, f"invalid YAML: {exc.problem}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BundleError(name, None, f"invalid YAML: {exc}") from exc


def _convert(file: str, raw: Any, shape: type[T]) -> T:
    try:
        return msgspec.convert(raw, type=shape, strict=True)
    except msgspec.ValidationError as exc:
        match = _MSGSPEC_PATH.match(str(exc))
        assert match is not None  # the pattern matches any string
        path = (match.group("path") or "").lstrip(".")
        raise BundleError(file, path or None, match.group("problem")) from exc


def read_bundle_file(root: Path) -> BundleFile:
    return _convert(BUNDLE_FILE, _read_yaml(root, BUNDLE_FILE), BundleFile)


def read_offers_file(root: Path) -> OffersFile:
    return _convert(OFFERS_FILE, _read_yaml(root, OFFERS_FILE), OffersFile)


def read_models_file(root: Path) -> ModelsFile:
    models = _read(root, MODELS_FILE, ModelsFile, ModelsFile())
    dup = _duplicates(m.id for m in models.models)
    if dup:
        raise BundleError(MODELS_FILE, "models", f"duplicate model ids: {dup}")
    return models


def _read(root: Path, name: str, shape: type[T], empty: T) -> T:
    raw = _read_yaml(root, name)
    return empty if raw is None else _convert(name, raw, shape)


def _duplicates(ids: Iterable[str]) -> list[str]:
    return sorted(i for i, n in Counter(ids).items() if n > 1)


def _offers(spec: OffersFile, meta: BundleFile, model_ids: set[str]) -> tuple[Offer, ...]:
    dup = _duplicates(o.id for o in spec.offers)
    if dup:
        raise BundleError(OFFERS_FILE, "offers", f"duplicate offer ids: {dup}")
    channels = set(meta.vocabulary.channels)
    offers = []
    for index, o in enumerate(spec.offers):
        where = f"offers[{index}]"
        unknown = sorted(set(o.channels) - channels)
        if unknown:
            raise BundleError(
                OFFERS_FILE,
                f"{where}.channels",
                f"unknown channels {unknown} for {o.id!r}; vocabulary has {sorted(channels)}",
            )
        _check_propensity_source(o, where, model_ids)
        offers.append(
            Offer(
                index=index,
                id=o.id,
                name=o.name,
                category=o.category,
                channels=frozenset(o.channels),
                value=o.value,
                lever=o.lever,
                product=o.product,
                tags=tuple(o.tags),
                model=o.model,
                fixed_propensity=o.propensity,
                treatment=dict(o.treatment),
            )
        )
    return tuple(offers)


def _check_propensity_source(o: OfferSpec, where: str, model_ids: set[str]) -> None:
    if (o.model is None) == (o.propensity is None):
        raise BundleError(
            OFFERS_FILE, where, f"offer {o.id!r} needs exactly one of `model` or `propensity`"
        )
    if o.model is not None and o.model not in model_ids:
        raise BundleError(
            OFFERS_FILE,
            f"{where}.model",
            f"unknown model {o.model!r}; {MODELS_FILE} has {sorted(model_ids)}",
        )


def offer_facts(offer: Offer) -> dict[str, Value]:
    return {
        "offer.id": offer.id,
        "offer.category": offer.category,
        "offer.product": offer.product,
        "offer.tags": list(offer.tags),
        "offer.value": offer.value,
        "offer.lever": offer.lever,
    }


def _models(
    root: Path, spec: ModelsFile, offers: tuple[Offer, ...], fields: Mapping[str, FieldKind]
) -> tuple[PropensityModel, ...]:
    models = []
    for position, m in enumerate(spec.models):
        where = f"models[{position}]"
        inputs = []
        for i, model_input in enumerate(m.inputs):
            kind = fields.get(model_input.source)
            expected: FieldKind = "number" if model_input.kind == "numeric" else "string"
            if kind is None:
                raise BundleError(
                    MODELS_FILE,
                    f"{where}.inputs[{i}].source",
                    f"unknown field {model_input.source!r}",
                )
            if kind != expected:
                raise BundleError(
                    MODELS_FILE,
                    f"{where}.inputs[{i}].source",
                    f"{model_input.source!r} is a {kind} field; a {model_input.kind} input "
                    f"needs a {expected} field",
                )
            inputs.append(ModelInput(model_input.name, model_input.source, model_input.kind))
        path = root / m.file
        if not path.is_file():
            raise BundleError(MODELS_FILE, f"{where}.file", f"model file {m.file!r} is missing")
        try:
            session = open_session(path, [(i.name, i.kind) for i in inputs], m.output)
        except ModelFileError as exc:
            field = f"{where}.{exc.field}" if exc.field else f"{where}.file"
            raise BundleError(MODELS_FILE, field, f"{m.file}: {exc.problem}") from exc
        covered = [o for o in offers if o.model == m.id]
        models.append(
            PropensityModel(
                m.id,
                session,
                inputs,
                m.output,
                [o.index for o in covered],
                [offer_facts(o) for o in covered],
            )
        )
    return tuple(models)


def _select(selector: Selector | None, offers: tuple[Offer, ...], where: str) -> frozenset[int]:
    if selector is None:
        return frozenset(o.index for o in offers)
    by_id = {o.id: o.index for o in offers}
    unknown = sorted(set(selector.offers) - set(by_id))
    if unknown:
        raise BundleError(RULES_FILE, f"{where}.applies_to.offers", f"unknown offers {unknown}")
    all_tags = {t for o in offers for t in o.tags}
    unknown = sorted(set(selector.tags) - all_tags)
    if unknown:
        raise BundleError(
            RULES_FILE, f"{where}.applies_to.tags", f"no offer has the tags {unknown}"
        )
    chosen = {by_id[i] for i in selector.offers}
    chosen |= {o.index for o in offers if o.category in selector.categories}
    chosen |= {o.index for o in offers if set(o.tags) & set(selector.tags)}
    return frozenset(chosen)


def _rules(
    spec: RulesFile, offers: tuple[Offer, ...], fields: Mapping[str, FieldKind]
) -> tuple[Rule, ...]:
    dup = _duplicates(r.id for r in spec.rules)
    if dup:
        raise BundleError(RULES_FILE, "rules", f"duplicate rule ids: {dup}")
    rules = []
    for position, r in enumerate(spec.rules):
        where = f"rules[{position}]"
        if (r.then == "boost") != (r.factor is not None):
            raise BundleError(
                RULES_FILE, f"{where}.factor", f"rule {r.id!r}: `factor` goes with `then: boost`"
            )
        try:
            expression = compile_expression(r.when, fields)
        except ExpressionError as exc:
            raise BundleError(RULES_FILE, f"{where}.when", f"rule {r.id!r}: {exc}") from exc
        rules.append(
            Rule(
                id=r.id,
                action=r.then,
                expression=expression,
                offers=_select(r.applies_to, offers, where),
                factor=r.factor or 1.0,
                description=r.description,
            )
        )
    return tuple(rules)


def _context_weights(
    spec: ContextWeightsFile, meta: BundleFile, offers: tuple[Offer, ...]
) -> ContextWeights:
    by_id = {o.id: o.index for o in offers}
    tables: dict[str, dict[str, tuple[float, ...]]] = {}
    for field, by_value in spec.items():
        vocabulary_name = _WEIGHTED_FIELDS.get(field)
        if vocabulary_name is None:
            raise BundleError(
                WEIGHTS_FILE, field, f"not a weighted context field; use {sorted(_WEIGHTED_FIELDS)}"
            )
        allowed: list[str] = getattr(meta.vocabulary, vocabulary_name)
        table: dict[str, tuple[float, ...]] = {}
        for value, targets in by_value.items():
            if value not in allowed:
                raise BundleError(
                    WEIGHTS_FILE, f"{field}.{value}", f"not in vocabulary.{vocabulary_name}"
                )
            weights = [1.0] * len(offers)
            for target, weight in targets.items():
                if target in _CATEGORIES:
                    hits = [o.index for o in offers if o.category == target]
                elif target in by_id:
                    hits = [by_id[target]]
                else:
                    raise BundleError(
                        WEIGHTS_FILE,
                        f"{field}.{value}.{target}",
                        "neither a category nor an offer id",
                    )
                for i in hits:
                    weights[i] *= weight
            table[value] = tuple(weights)
        tables[field] = table
    return ContextWeights(tables)


def _policies(spec: PoliciesFile, meta: BundleFile, offers: tuple[Offer, ...]) -> ContactPolicies:
    dup = _duplicates(p.id for p in spec.policies)
    if dup:
        raise BundleError(POLICIES_FILE, "policies", f"duplicate policy ids: {dup}")
    ids = {o.id for o in offers}
    for position, p in enumerate(spec.policies):
        where = f"policies[{position}].scope"
        unknown = sorted(set(p.scope.offers) - ids)
        if unknown:
            raise BundleError(POLICIES_FILE, f"{where}.offers", f"unknown offers {unknown}")
        if p.scope.channel is not None and p.scope.channel not in meta.vocabulary.channels:
            raise BundleError(
                POLICIES_FILE, f"{where}.channel", f"unknown channel {p.scope.channel!r}"
            )
    try:
        return compile_policies(spec.policies, offers, meta.vocabulary.channels)
    except PolicyError as exc:
        raise BundleError(POLICIES_FILE, exc.field, exc.problem) from exc


def referenced_files(root: Path, models: ModelsFile) -> list[str]:
    present = [name for name in BUNDLE_FILES if (root / name).is_file()]
    return present + [m.file for m in models.models]


def load_bundle(root: Path) -> Bundle:
    """Load, validate and compile the bundle in directory `root`."""
    if not root.is_dir():
        raise BundleError(str(root), None, "bundle directory does not exist")
    meta = read_bundle_file(root)
    fields = known_fields(meta.customer_attributes, meta.context_attributes)
    models_spec = read_models_file(root)
    offers = _offers(
        read_offers_file(root),
        meta,
        {m.id for m in models_spec.models},
    )
    rules = _rules(_read(root, RULES_FILE, RulesFile, RulesFile()), offers, fields)
    weights = _context_weights(_read(root, WEIGHTS_FILE, ContextWeightsFile, {}), meta, offers)
    policies = _policies(_read(root, POLICIES_FILE, PoliciesFile, PoliciesFile()), meta, offers)
    models = _models(root, models_spec, offers, fields)

    manifest_raw = root / MANIFEST_NAME
    if not manifest_raw.is_file():
        raise BundleError(MANIFEST_NAME, None, "file is missing; run `nextbest seal`")
    try:
        manifest = msgspec.json.decode(manifest_raw.read_bytes(), type=ManifestFile)
    except msgspec.DecodeError as exc:
        raise BundleError(MANIFEST_NAME, None, str(exc)) from exc
    files = referenced_files(root, models_spec)
    verify_manifest(root, manifest, meta.name, meta.version, files)

    return Bundle(
        path=root,
        name=meta.name,
        version=meta.version,
        description=meta.description,
        loaded_at=datetime.now(UTC),
        checksums=dict(manifest.files),
        vocabulary=meta.vocabulary,
        customer_attributes=dict(meta.customer_attributes),
        context_attributes=dict(meta.context_attributes),
        offers=offers,
        rules=rules,
        context_weights=weights,
        clv_share={c: meta.value.clv_share.get(c, 0.0) for c in _CATEGORIES},
        models=models,
        policies=policies,
    )
