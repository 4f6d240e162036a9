"""The training spec: which history columns are features, where each comes from in a
decision request, which column is the outcome and which names the offer.

A small YAML (``.yaml``/``.yml``) or TOML (``.toml``) file::

    model:
      id: propensity        # offers.yaml refers to it: `model: propensity`
      family: auto          # auto (default): chosen by cross-validation among
                            # logreg, gbt and lgbm; or one of them
      calibration: sigmoid  # sigmoid (default) or none
    seed: 20261123
    folds: 5                # stratified cross-validation folds (default 5)
    selection_rows: 50000   # larger histories: folds over a stratified sample this size
    # holdout: 0.2          # instead of cross-validation: evaluate one fixed family on this
                            # share and ship the model fitted on the rest
    outcome:
      column: accepted
      positive: [yes]       # optional; default 1 / true / yes
      negative: [no]        # optional; default 0 / false / no
    offer:
      column: offer_id      # the offer presented in each row; or `id: green_tariff`
    features:
      numeric:
        clv: customer.clv
        tenure_months: customer.attributes.tenure_months
      categorical:
        call_reason: context.call_reason

Each feature becomes one ONNX input in the order listed (numeric, then categorical,
then the offer column), named as its column with every character other than an ASCII
letter, digit or underscore replaced by ``_`` (``Tenure (months)`` -> ``Tenure__months_``);
``models.yaml`` records the same names and sources, so that serving feeds the model what
training fed it.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from nextbest.fields import FieldKind
from nextbest.training.errors import TrainingError
from nextbest.training.features import FeatureSpec
from nextbest.training.pipeline import Calibration
from nextbest.validation import convert_strict
from nextbest.yaml_file import parse_yaml

__all__ = [
    "ATTRIBUTE_RULE",
    "DEFAULT_FOLDS",
    "DEFAULT_SEED",
    "DEFAULT_SELECTION_ROWS",
    "FamilyChoice",
    "TrainingSpec",
    "check_sources",
    "input_name",
    "label_of",
    "load_spec",
    "source_problems",
]

DEFAULT_SEED = 20261123
DEFAULT_FOLDS = 5
DEFAULT_SELECTION_ROWS = 50_000
FamilyChoice = Literal["auto", "logreg", "gbt", "lgbm"]
DEFAULT_POSITIVE = ("1", "true", "yes")
DEFAULT_NEGATIVE = ("0", "false", "no")

Identifier = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Column = Annotated[str, msgspec.Meta(min_length=1)]
Label = str | int | float | bool
Param = str | int | float | bool | None


class _Part(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    pass


class _Model(_Part, frozen=True):
    id: Identifier = "propensity"
    family: FamilyChoice = "auto"
    calibration: Calibration = "sigmoid"
    params: dict[str, Param] = {}


class _Outcome(_Part, frozen=True):
    column: Column
    positive: list[Label] = []
    negative: list[Label] = []


class _Offer(_Part, frozen=True):
    column: Column | None = None
    id: Identifier | None = None


class _Features(_Part, frozen=True):
    numeric: dict[Column, str | None] = {}
    categorical: dict[Column, str | None] = {}


class _SpecFile(_Part, frozen=True):
    outcome: _Outcome
    features: _Features
    offer: _Offer | None = None
    model: _Model = _Model()
    seed: Annotated[int, msgspec.Meta(ge=0, lt=2**32)] = DEFAULT_SEED
    holdout: Annotated[float, msgspec.Meta(ge=0.05, le=0.5)] | None = None
    folds: Annotated[int, msgspec.Meta(ge=2, le=20)] = DEFAULT_FOLDS
    selection_rows: Annotated[int, msgspec.Meta(ge=1000)] = DEFAULT_SELECTION_ROWS


def input_name(column: str) -> str:
    """The ONNX input name of a column (skl2onnx accepts only word characters)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", column)
    return name if name[:1].isalpha() or name[:1] == "_" else f"_{name}"


@dataclass(frozen=True, slots=True)
class TrainingSpec:
    """A checked spec. ``fields`` maps each column the spec names to its spec field;
    ``column_of`` maps each feature's input name to its history column."""

    file: str
    model_id: str
    family: FamilyChoice
    calibration: Calibration
    params: Mapping[str, Param]
    seed: int
    holdout: float | None
    """Set: the held-out run of one fixed family; None: cross-validation and refit."""
    folds: int
    selection_rows: int
    outcome: str
    positive: frozenset[str]
    negative: frozenset[str]
    offer_column: str | None
    offer_id: str | None
    features: tuple[FeatureSpec, ...]
    fields: Mapping[str, str]
    column_of: Mapping[str, str]

    @property
    def columns(self) -> tuple[str, ...]:
        """Every history column training reads: the features, then the outcome."""
        return (*(self.column_of[f.name] for f in self.features), self.outcome)


def label_of(value: object) -> str:
    """An outcome value as compared with the spec: trimmed, lower case, ``1.0`` as ``1``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip().lower()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _read(path: Path) -> Any:
    name = str(path)
    if not path.is_file():
        raise TrainingError(name, None, "spec file does not exist")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return parse_yaml(path.read_bytes(), name, TrainingError)
    if suffix == ".toml":
        try:
            return tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise TrainingError(name, None, f"invalid spec: {exc}") from exc
    raise TrainingError(name, None, "a spec is a .yaml, .yml or .toml file")


def _convert(name: str, raw: Any) -> _SpecFile:
    if raw is None:
        raise TrainingError(name, None, "the spec is empty")
    return convert_strict(raw, _SpecFile, name, TrainingError)


def _features(name: str, spec: _SpecFile) -> tuple[list[FeatureSpec], dict[str, str]]:
    both = sorted(set(spec.features.numeric) & set(spec.features.categorical))
    if both:
        raise TrainingError(name, "features", f"columns listed as numeric and categorical: {both}")
    features: list[FeatureSpec] = []
    fields: dict[str, str] = {}
    kinds: tuple[tuple[Literal["numeric", "categorical"], dict[str, str | None]], ...] = (
        ("numeric", spec.features.numeric),
        ("categorical", spec.features.categorical),
    )
    for kind, table in kinds:
        for column, source in table.items():
            field = f"features.{kind}.{column}"
            if not source:
                raise TrainingError(
                    name,
                    field,
                    "no source: say where a decision request carries this value, e.g. "
                    f"customer.attributes.{column} or context.attributes.{column}",
                )
            features.append(FeatureSpec(column, source, kind))
            fields[column] = field
    return features, fields


def _offer(
    name: str, spec: _SpecFile, features: list[FeatureSpec], fields: dict[str, str]
) -> tuple[str | None, str | None]:
    offer = spec.offer
    if offer is None or (offer.column is None and offer.id is None):
        raise TrainingError(
            name,
            "offer",
            "say which column names the offer presented in each row (`column: offer_id`), "
            "or which one offer the model is for (`id: green_tariff`)",
        )
    for f in features:
        if f.source == "offer.id" and f.name != offer.column:
            raise TrainingError(
                name, fields[f.name], "only the offer column (`offer.column`) feeds offer.id"
            )
    if offer.column is not None:
        listed = next((f for f in features if f.name == offer.column), None)
        if listed is None:
            features.append(FeatureSpec(offer.column, "offer.id", "categorical"))
            fields[offer.column] = "offer.column"
        elif listed.kind != "categorical" or listed.source != "offer.id":
            raise TrainingError(
                name,
                fields[offer.column],
                f"{offer.column!r} is the offer column: a categorical feature with source "
                "offer.id (or leave it out of `features`)",
            )
    return offer.column, offer.id


def load_spec(path: Path) -> TrainingSpec:
    """Read and check the spec at ``path``; errors name the spec field."""
    name = str(path)
    spec = _convert(name, _read(path))
    features, fields = _features(name, spec)
    offer_column, offer_id = _offer(name, spec, features, fields)
    if not features:
        raise TrainingError(name, "features", "no feature columns")
    outcome = spec.outcome.column
    if outcome in fields:
        raise TrainingError(name, "outcome.column", f"{outcome!r} is also a feature")
    fields[outcome] = "outcome.column"
    column_of: dict[str, str] = {}
    for f in features:
        onnx_name = input_name(f.name)
        if onnx_name in column_of:
            raise TrainingError(
                name,
                fields[f.name],
                f"{f.name!r} and {column_of[onnx_name]!r} both become ONNX input "
                f"{onnx_name!r}; rename one column",
            )
        column_of[onnx_name] = f.name
    if spec.model.params and spec.model.family == "auto":
        raise TrainingError(
            name,
            "model.params",
            "parameters belong to one family: set model.family (logreg, gbt or lgbm) too",
        )
    if spec.holdout is not None and spec.model.family not in ("gbt", "logreg"):
        raise TrainingError(
            name,
            "holdout",
            "a held-out run trains one fixed family: set model.family to gbt or logreg, "
            "or drop `holdout` to choose by cross-validation and refit on all rows",
        )
    positive = frozenset(label_of(v) for v in spec.outcome.positive or DEFAULT_POSITIVE)
    negative = frozenset(label_of(v) for v in spec.outcome.negative or DEFAULT_NEGATIVE)
    if positive & negative:
        raise TrainingError(
            name, "outcome", f"values both positive and negative: {sorted(positive & negative)}"
        )
    return TrainingSpec(
        file=name,
        model_id=spec.model.id,
        family=spec.model.family,
        calibration=spec.model.calibration,
        params=dict(spec.model.params),
        seed=spec.seed,
        holdout=spec.holdout,
        folds=spec.folds,
        selection_rows=spec.selection_rows,
        outcome=outcome,
        positive=positive,
        negative=negative,
        offer_column=offer_column,
        offer_id=offer_id,
        features=tuple(FeatureSpec(input_name(f.name), f.source, f.kind) for f in features),
        fields=fields,
        column_of=column_of,
    )


ATTRIBUTE_RULE = (
    "an attribute name is lower case: a letter, then letters, digits or _ "
    "(^[a-z][a-z0-9_]*$); the column may be spelt in any case"
)
_ATTRIBUTE = re.compile(r"^(customer|context)\.attributes\.(?P<name>.+)$")
_ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _closest(word: str, choices: list[str]) -> str | None:
    """The choice most like ``word``, ignoring case."""
    by_fold = {c.casefold(): c for c in choices}
    close = difflib.get_close_matches(word.casefold(), list(by_fold), n=1)
    return by_fold[close[0]] if close else None


def source_problems(spec: TrainingSpec, known: Mapping[str, FieldKind]) -> list[TrainingError]:
    """Every feature whose source is not a field of the bundle of the kind it needs."""
    problems: list[TrainingError] = []
    for f in spec.features:
        field = spec.fields[spec.column_of[f.name]]
        kind = known.get(f.source)
        attribute = _ATTRIBUTE.match(f.source)
        if kind is None:
            close = _closest(f.source, list(known))
            hint = f"; did you mean {close!r}?" if close else ""
            rule = ""
            if attribute and not _ATTRIBUTE_NAME.match(attribute.group("name")):
                rule = f"; {ATTRIBUTE_RULE}"
            problems.append(
                TrainingError(
                    spec.file,
                    field,
                    f"unknown source {f.source!r}{hint} (attributes must be declared in "
                    f"bundle.yaml under customer_attributes or context_attributes{rule})",
                )
            )
            continue
        needed: FieldKind = "number" if f.kind == "numeric" else "string"
        if kind != needed:
            problems.append(
                TrainingError(
                    spec.file,
                    field,
                    f"source {f.source!r} is a {kind} field; a {f.kind} feature needs a "
                    f"{needed} field",
                )
            )
    return problems


def check_sources(spec: TrainingSpec, known: Mapping[str, FieldKind]) -> None:
    """Raise the first of :func:`source_problems`."""
    problems = source_problems(spec, known)
    if problems:
        raise problems[0]
