"""`models.yaml`: each model's inputs checked against the field catalogue, its ONNX session
opened from the bytes the loader read."""

from __future__ import annotations

from collections.abc import Mapping

from nextbest.bundle._schema import ModelsFile
from nextbest.bundle.bundle import Offer
from nextbest.bundle.files import MODELS_FILE
from nextbest.bundle.offers import offer_facts
from nextbest.errors import BundleError
from nextbest.fields import FieldKind
from nextbest.scoring import ModelFileError, ModelInput, PropensityModel, open_session

__all__ = ["compile_models"]


def _inputs(
    where: str, spec: ModelsFile, position: int, fields: Mapping[str, FieldKind]
) -> list[ModelInput]:
    inputs = []
    for i, model_input in enumerate(spec.models[position].inputs):
        kind = fields.get(model_input.source)
        expected: FieldKind = "number" if model_input.kind == "numeric" else "string"
        if kind is None:
            raise BundleError(
                MODELS_FILE, f"{where}.inputs[{i}].source", f"unknown field {model_input.source!r}"
            )
        if kind != expected:
            raise BundleError(
                MODELS_FILE,
                f"{where}.inputs[{i}].source",
                f"{model_input.source!r} is a {kind} field; a {model_input.kind} input "
                f"needs a {expected} field",
            )
        inputs.append(ModelInput(model_input.name, model_input.source, model_input.kind))
    return inputs


def compile_models(
    spec: ModelsFile,
    files: Mapping[str, bytes],
    offers: tuple[Offer, ...],
    fields: Mapping[str, FieldKind],
) -> tuple[PropensityModel, ...]:
    models = []
    for position, m in enumerate(spec.models):
        where = f"models[{position}]"
        inputs = _inputs(where, spec, position, fields)
        try:
            opened = open_session(files[m.file], [(i.name, i.kind) for i in inputs], m.output)
        except ModelFileError as exc:
            field = f"{where}.{exc.field}" if exc.field else f"{where}.file"
            raise BundleError(MODELS_FILE, field, f"{m.file}: {exc.problem}") from exc
        covered = [o for o in offers if o.model == m.id]
        models.append(
            PropensityModel(
                m.id,
                opened.session,
                inputs,
                m.output,
                [o.index for o in covered],
                [offer_facts(o) for o in covered],
                codes=opened.codes,
            )
        )
    return tuple(models)
