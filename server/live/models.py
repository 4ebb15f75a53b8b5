"""Request and reply bodies of the live event routes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, model_validator

from server.api import Body, Query, Reply
from server.validate import Clean, Instant, IsoTime, JsonInt, QueryInt

MAX_PRICE = 100_000_00  # 100,000.00 in a two-decimal currency

Title = Annotated[str, Clean(max_len=200)]
Description = Annotated[str, Clean(min_len=0, max_len=5000, multiline=True)]
Price = Annotated[int, Field(ge=0, le=MAX_PRICE, description="integer minor units"), JsonInt]
Currency = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(description="ISO 4217 code like EUR")
]
# No show starts before this; it also keeps dates clear of the calendar's edges.
EARLIEST_START = datetime(2000, 1, 1, tzinfo=UTC)


def _plausible(value: datetime) -> datetime:
    if value < EARLIEST_START:
        raise ValueError("must be in the year 2000 or later")
    return value


StartsAt = Annotated[
    Instant, AfterValidator(_plausible), Field(description="with a zone; 2000 or later")
]
Capacity = Annotated[int, Field(ge=1, le=1_000_000), JsonInt]


class EventIn(Body):
    """A new event."""

    title: Title
    description: Description | None = None
    starts_at: StartsAt
    price: Price
    currency: Currency = "EUR"
    capacity: Capacity | None = None
    replay_access: bool = False

    def fields(self) -> dict[str, Any]:
        """The columns the live service stores."""
        return {
            "title": self.title,
            "description": self.description or "",
            "starts_at": self.starts_at,
            "price_minor": self.price,
            "currency": self.currency,
            "capacity": self.capacity,
            "replay_access": self.replay_access,
        }


# Absent means "no change"; null is refused for these (a description or capacity may be cleared).
_NOT_NULL = {"title", "starts_at", "price", "currency", "replay_access"}


def _not_null(schema: dict[str, Any]) -> None:
    """Document the edit's fields as the validator takes them: non-null, at least one."""
    schema["minProperties"] = 1
    for name in _NOT_NULL:
        prop = schema["properties"][name]
        prop.pop("default", None)
        prop.update(next(b for b in prop.pop("anyOf") if b.get("type") != "null"))


class EventEdit(Body):
    """Changes to a scheduled event; only the fields sent change (`capacity: null` lifts it)."""

    model_config = ConfigDict(json_schema_extra=_not_null)

    title: Title | None = None
    description: Description | None = None
    starts_at: StartsAt | None = None
    price: Price | None = None
    currency: Currency | None = None
    capacity: Capacity | None = None
    replay_access: bool | None = None

    @model_validator(mode="after")
    def _present(self) -> EventEdit:
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for name in _NOT_NULL & self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} must not be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The columns to update."""
        columns = {"price": "price_minor"}
        out: dict[str, Any] = {
            columns.get(name, name): getattr(self, name) for name in self.model_fields_set
        }
        if "description" in out and out["description"] is None:
            out["description"] = ""
        return out


class ListQuery(Query):
    """How many upcoming events to list."""

    limit: Annotated[int, Field(ge=1, le=200), QueryInt] = 50


class Event(Reply):
    """An event as anyone sees it (never its stream key)."""

    id: uuid.UUID
    artist_id: uuid.UUID
    title: str
    description: str
    starts_at: IsoTime
    price: int
    currency: str
    capacity: int | None
    replay_access: bool
    status: str
    publishing: bool
    started_at: IsoTime | None
    ended_at: IsoTime | None
    created_at: IsoTime


class CreatedEvent(Event):
    """A new event with its stream key, shown this once."""

    stream_key: str


class Events(Reply):
    """A list of events."""

    events: list[Event]


class StreamKey(Reply):
    """A replacement stream key, shown this once."""

    id: uuid.UUID
    stream_key: str
