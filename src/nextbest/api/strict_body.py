"""Strict JSON request bodies.

Litestar converts bodies with msgspec's lax mode (`"3"` becomes `3`, `"true"` becomes
`True`). A decision client that sends the wrong type should hear about it, so bodies are
decoded here with a strict msgspec decoder built once per type; the OpenAPI schema is
still generated from the type.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import msgspec
from litestar.dto import AbstractDTO
from litestar.exceptions import ClientException

from nextbest.errors import InvalidRequestError
from nextbest.validation import split_validation_error

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.dto.data_structures import DTOFieldDefinition
    from litestar.openapi.spec import Reference, Schema
    from litestar.typing import FieldDefinition

__all__ = ["MalformedBodyError", "StrictJSON", "decode_strict"]

T = TypeVar("T")


class MalformedBodyError(ClientException):
    """A body that is not JSON at all: empty, not UTF-8, or broken (400)."""


class StrictJSON(AbstractDTO[T], Generic[T]):
    """A DTO that only decodes: strictly, with a cached msgspec decoder."""

    _decoders: ClassVar[dict[type[Any], msgspec.json.Decoder[Any]]] = {}

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        cls._decoders.setdefault(cls.model_type, msgspec.json.Decoder(cls.model_type))

    @classmethod
    def generate_field_definitions(
        cls, model_type: type[Any]
    ) -> Generator[DTOFieldDefinition, None, None]:
        yield from ()

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        return schema_creator.for_field_definition(field_definition)

    def decode_bytes(self, value: bytes) -> Any:
        return decode_strict(self._decoders[self.model_type], value)


def decode_strict(decoder: msgspec.json.Decoder[T], value: bytes) -> T:
    """Decode strictly; a wrong field is an InvalidRequestError naming it (422), a body
    that is not JSON (broken, or not UTF-8) a MalformedBodyError (400). msgspec stops at
    the first wrong field, so one is named."""
    try:
        return decoder.decode(value)
    except msgspec.ValidationError as exc:
        # msgspec stops at the first wrong field, before it has read the rest: a body
        # that is not JSON further on is still a 400.
        _well_formed(value)
        field, problem = split_validation_error(exc)
        raise InvalidRequestError(field or "body", problem) from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise _malformed(exc) from exc


def _malformed(exc: msgspec.DecodeError | UnicodeDecodeError) -> MalformedBodyError:
    if isinstance(exc, UnicodeDecodeError):
        return MalformedBodyError(f"body is not valid JSON: not UTF-8 ({exc.reason})")
    return MalformedBodyError(f"body is not valid JSON: {exc}")


def _well_formed(value: bytes) -> None:
    try:
        msgspec.json.decode(value)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise _malformed(exc) from exc
