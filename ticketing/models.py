"""Request and reply bodies of the ticketing routes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from server.api import Body, Query, Reply
from server.playback.models import PlaybackGrant
from server.validate import IsoTime

# Purchase and validation once named the event `streamId`; it is still taken, `event_id` is
# the documented name, as on every other route.
EVENT_ID_ALIASES = AliasChoices("event_id", "streamId")


def _one_event_name(data: Any) -> Any:
    if isinstance(data, dict) and "event_id" in data and "streamId" in data:
        raise ValueError("send event_id only (streamId is its old name)")
    return data


class PurchaseIn(Body):
    """The event to buy a ticket for."""

    event_id: uuid.UUID = Field(validation_alias=EVENT_ID_ALIASES)

    @model_validator(mode="before")
    @classmethod
    def _one_name(cls, data: Any) -> Any:
        return _one_event_name(data)


class ValidateIn(Body):
    """A ticket code as scanned, and optionally the event it is shown at."""

    code: Annotated[str, StringConstraints(max_length=256)]
    event_id: uuid.UUID | None = Field(None, validation_alias=EVENT_ID_ALIASES)

    @model_validator(mode="before")
    @classmethod
    def _one_name(cls, data: Any) -> Any:
        return _one_event_name(data)


class DevConfirmIn(Body):
    """How the development payment ends."""

    outcome: Literal["succeed", "fail"] = "succeed"


class QrQuery(Query):
    """The code's rendering (default: PNG, or what `Accept` asks for)."""

    format: Literal["png", "svg", "json"] | None = None


class StripeEvent(BaseModel):
    """A Stripe event notification, checked by its `Stripe-Signature` header."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str


class Ticket(Reply):
    """A ticket for its owner."""

    id: uuid.UUID
    event_id: uuid.UUID
    status: str
    price: int
    currency: str
    replay_access: bool
    provider: str | None
    reserved_until: IsoTime | None
    paid_at: IsoTime | None
    admitted_at: IsoTime | None
    closed_at: IsoTime | None
    close_reason: str | None
    created_at: IsoTime


class Tickets(Reply):
    """The caller's tickets, newest first."""

    tickets: list[Ticket]


class Payment(Reply):
    """The payment to complete with its provider (`confirm_url` for development payments)."""

    provider: str
    label: str
    id: str
    status: str
    client_secret: str | None
    amount: int
    currency: str
    publishable_key: str | None = None
    confirm_url: str | None = None


class Purchase(Reply):
    """A held seat and its payment."""

    ticket: Ticket
    payment: Payment


class QrCode(Reply):
    """A signed code and its validity window (Unix seconds)."""

    code: str
    not_before: int
    expires_at: int
    refresh_in: int


class ChatAccess(Reply):
    """Whether the admitted holder may chat."""

    allowed: bool
    event_id: uuid.UUID


class Admission(Reply):
    """An admitted ticket and its viewing session."""

    status: str
    reentry: bool
    ticket_id: uuid.UUID
    event_id: uuid.UUID
    admitted_at: IsoTime
    playback: PlaybackGrant
    chat: ChatAccess


class WebhookReceipt(Reply):
    """What became of a notification."""

    received: bool
    duplicate: bool = False
    outcome: str | None = None


class DevConfirmation(Reply):
    """The development payment's outcome and the ticket after it."""

    provider: str
    label: str
    outcome: str | None
    ticket: Ticket


class ReplayInfo(Reply):
    """The packaged recording."""

    status: str
    duration: float | None
    segments: int | None
    parts: int | None


class ReplayGrant(Reply):
    """A replay playback grant and how long replays stay available."""

    event_id: uuid.UUID
    available_until: IsoTime | None
    replay: ReplayInfo
    playback: PlaybackGrant


class SplitRule(Reply):
    """How each sale is divided, in basis points."""

    artist_bps: int
    platform_bps: int
    processing_bps: int
    remainder: str
    rule: str


class SalesTotal(Reply):
    """Totals in one currency (refunded sales excluded from the sums)."""

    currency: str
    sold: int
    refunded: int
    gross: int
    artist: int
    platform: int
    processing: int


class Sale(Reply):
    """One sale and its split."""

    ticket_id: uuid.UUID
    price: int
    currency: str
    artist: int
    platform: int
    processing: int
    refunded_at: IsoTime | None
    sold_at: IsoTime


class Sales(Reply):
    """An event's sales, seats held and attendance."""

    event_id: uuid.UUID
    capacity: int | None
    seats_held: int
    attended: int
    split_rule: SplitRule
    totals: list[SalesTotal]
    sales: list[Sale]
