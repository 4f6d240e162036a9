"""The fields a rule or a model input may name: the catalogue in `nextbest.fields`."""

from nextbest.fields import REQUEST_ROOTS, FieldKind, known_fields

__all__ = ["REQUEST_ROOTS", "FieldKind", "known_fields"]
