"""Field rules for request bodies and queries: typed fields for the models, and path ids."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import BeforeValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue, WithJsonSchema
from pydantic_core import CoreSchema, core_schema

from server.errors import bad_request


def uuid_value(raw: object, what: str) -> uuid.UUID:
    """A UUID from a path segment or field, or a 404-free 400."""
    if not isinstance(raw, str):
        raise bad_request(f"{what} must be a UUID", "invalid_id")
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise bad_request(f"{what} must be a UUID", "invalid_id") from None


def path_uuid(request: web.Request, name: str = "id") -> uuid.UUID:
    """A UUID from the URL path."""
    return uuid_value(request.match_info.get(name), name)


# ---- Constrained field types for the pydantic models of request bodies and queries ----------


_LINE_CONTROL = r"\x00-\x1f\x7f"
_TEXT_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
_CONTROL = re.compile(f"[{_TEXT_CONTROL}]")
_CONTROL_LINE = re.compile(f"[{_LINE_CONTROL}]")


@dataclass(frozen=True)
class Clean:
    """A trimmed string within length bounds, without control characters."""

    min_len: int = 1
    max_len: int = 200
    multiline: bool = False

    def check(self, value: str) -> str:
        """The trimmed value, or a ValueError saying what is wrong."""
        if len(value) > self.max_len:  # as sent, so the documented maxLength is exact
            raise ValueError(f"must be {self.min_len}-{self.max_len} characters")
        value = value.strip()
        if (_CONTROL if self.multiline else _CONTROL_LINE).search(value):
            raise ValueError("must not contain control characters")
        if not self.min_len <= len(value) <= self.max_len:
            raise ValueError(f"must be {self.min_len}-{self.max_len} characters")
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            self.check, core_schema.str_schema(strict=True)
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        control = _TEXT_CONTROL if self.multiline else _LINE_CONTROL
        # Exactly what `check` takes: any whitespace around a core that starts and ends with a
        # visible character and holds no control character.
        edge, inner = f"[^\\s{control}]", f"[^{control}]"
        core = f"{edge}(?:{inner}*{edge})?"
        pattern = f"^\\s*{core}\\s*$" if self.min_len else f"^\\s*(?:{core})?\\s*$"
        return {
            "type": "string",
            "minLength": self.min_len,
            "maxLength": self.max_len,
            "pattern": pattern,
        }


def _integral(value: Any) -> Any:
    """JSON has one number type: 3.0 is the integer 3 (JSON Schema agrees); 3.5 is not."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def _digits(value: Any) -> Any:
    """A query integer is ASCII digits only (`int()` would take '²', '١' or '1_0')."""  # noqa: RUF002
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and len(value) <= 19):
            raise ValueError("must be a non-negative integer")
        return int(value)
    return value


# An integer in a JSON body: booleans and fractions refused, integral floats taken.
JsonInt = BeforeValidator(_integral)
# An integer in a query string.
QueryInt = BeforeValidator(_digits)


class _Instant:
    """Parses an ISO 8601 string with a zone (as `timestamp` does) into a UTC datetime."""

    @staticmethod
    def parse(value: str) -> datetime:
        """The instant, or a ValueError saying what is wrong."""
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("is not an ISO 8601 timestamp") from None
        if parsed.tzinfo is None:
            raise ValueError("must include a time zone")
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # year 1 or 9999 pushed past the calendar by its offset
            raise ValueError("is out of range") from None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            self.parse, core_schema.str_schema(strict=True)
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "date-time"}


# An ISO 8601 instant with a zone, normalised to UTC.
Instant = Annotated[datetime, _Instant()]
# A timestamp as the API writes it (ISO 8601 with an offset).
IsoTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
