"""Typed Socket.IO payloads: each client event's JSON object, parsed before any rule runs.

Unknown fields are ignored (older and newer clients stay compatible); integers must be
integers (no booleans, floats or strings); ids are UUID strings. A payload of the wrong shape
is `invalid_payload`, a message body that cannot be shown is `invalid_text`.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, ValidationError

from server.errors import ApiError, bad_request

MAX_TEXT = 500
MAX_TIMEOUT_MINUTES = 7 * 24 * 60
MAX_SLOW_MODE_SECONDS = 3600

# Line breaks and tabs become spaces; other C0/C1 controls, lone surrogates (which cannot be
# stored or encoded) and bidi overrides (used to spoof text direction) are dropped.
_AS_SPACE = re.compile("[\t\n\r\x0b\x0c\u2028\u2029]+")
_DROP = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def clean_text(raw: str) -> str:
    """A message body: controls stripped, trimmed, 1-500 characters."""
    text = _DROP.sub("", _AS_SPACE.sub(" ", raw)).strip()
    if not text:
        raise ValueError("text is empty")
    if len(text) > MAX_TEXT:
        raise ValueError(f"text is longer than {MAX_TEXT} characters")
    return text


MessageText = Annotated[StrictStr, AfterValidator(clean_text)]


class Payload(BaseModel):
    """A client event's payload."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class EventRef(Payload):
    """Names an event's chat: join, leave."""

    event_id: uuid.UUID


class SendMessage(EventRef):
    """A message to post."""

    text: MessageText


class MessageRef(EventRef):
    """Names a message: delete."""

    message_id: uuid.UUID


class UserRef(EventRef):
    """Names a user: ban, unban."""

    user_id: uuid.UUID


class TimeoutUser(UserRef):
    """A timeout of N minutes."""

    minutes: Annotated[int, Field(strict=True, ge=1, le=MAX_TIMEOUT_MINUTES)]


class SlowMode(EventRef):
    """Seconds between a member's messages (0 turns slow mode off)."""

    seconds: Annotated[int, Field(strict=True, ge=0, le=MAX_SLOW_MODE_SECONDS)]


class Pin(EventRef):
    """A message to pin, or null to unpin (the field is required either way)."""

    message_id: uuid.UUID | None


P = TypeVar("P", bound=Payload)


def parse(model: type[P], args: tuple[Any, ...]) -> P:
    """Exactly one JSON object of `model`'s shape, or the 400 naming what is wrong."""
    if len(args) != 1 or not isinstance(args[0], dict):
        raise bad_request("expected one JSON object as the payload", "invalid_payload")
    try:
        return model.model_validate(args[0])
    except ValidationError as exc:
        raise _error(exc) from None


def _error(exc: ValidationError) -> ApiError:
    first = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "payload"
    if field == "text":
        if first["type"] == "value_error":  # clean_text's own reason
            return bad_request(str(first["msg"]).removeprefix("Value error, "), "invalid_text")
        return bad_request("text must be a string", "invalid_text")
    if first["type"] == "missing":
        return bad_request(f"{field} is required", "invalid_payload")
    return bad_request(f"{field}: {first['msg']}", "invalid_payload")
