"""Request and reply bodies of the ticketing routes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from server.api import Body, Query, Reply
from server.playback.models import PlaybackGrant
from server.validate import Clean, IsoTime, JsonInt, QueryInt

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


# --- tips and subscriptions ---------------------------------------------------------------

MinorUnits = Annotated[int, Field(ge=1, le=10**9, description="integer minor units"), JsonInt]
CurrencyCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(description="ISO 4217 code like EUR")
]


class TipIn(Body):
    """A tip to an artist, optionally for one of their videos or events (not both)."""

    artist_id: uuid.UUID = Field(validation_alias=AliasChoices("artistId", "artist_id"))
    amount: MinorUnits
    currency: CurrencyCode
    video_id: uuid.UUID | None = Field(None, validation_alias=AliasChoices("videoId", "video_id"))
    event_id: uuid.UUID | None = Field(None, validation_alias=AliasChoices("eventId", "event_id"))
    message: Annotated[str, Clean(min_len=0, max_len=280)] = ""

    @model_validator(mode="after")
    def _one_target(self) -> TipIn:
        if self.video_id is not None and self.event_id is not None:
            raise ValueError("a tip is for a video or for an event, not both")
        return self


class TipStarted(Reply):
    """The tip's payment, for the client to confirm (already settled with dev payments)."""

    tip_id: uuid.UUID
    client_secret: str | None
    provider: str
    status: str
    amount: int
    currency: str


class TipView(Reply):
    """A tip as its fan (or its artist) sees it."""

    id: uuid.UUID
    artist_id: uuid.UUID
    video_id: uuid.UUID | None
    event_id: uuid.UUID | None
    amount: int
    currency: str
    message: str
    status: str
    provider: str
    created_at: IsoTime
    paid_at: IsoTime | None


class TipHistory(Reply):
    """The fan's tips, newest first; `next` continues the list."""

    tips: list[TipView]
    next: str | None


class TipQuery(Query):
    """A page of the fan's tips."""

    before: Annotated[str, StringConstraints(max_length=60)] | None = None
    limit: Annotated[int, Field(ge=1, le=100), QueryInt] = 50


class PriceIn(Body):
    """The monthly price an artist asks of new subscribers."""

    amount: MinorUnits
    currency: CurrencyCode


class PriceView(Reply):
    """An artist's monthly subscription price."""

    artist_id: uuid.UUID
    amount: int
    currency: str


class SubscribeIn(Body):
    """The artist to subscribe to, and (with Stripe) the payment method the client set up."""

    artist_id: uuid.UUID = Field(validation_alias=AliasChoices("artistId", "artist_id"))
    payment_method: Annotated[str, Clean(max_len=200)] | None = Field(
        None, validation_alias=AliasChoices("paymentMethod", "payment_method")
    )


class SubscriptionView(Reply):
    """A fan's subscription to an artist."""

    id: uuid.UUID
    artist_id: uuid.UUID
    amount: int
    currency: str
    provider: str
    status: str
    cancel_at_period_end: bool
    current_period_end: IsoTime | None
    access_until: IsoTime | None
    has_access: bool
    created_at: IsoTime


class SubscriptionList(Reply):
    """The fan's subscriptions, newest first."""

    subscriptions: list[SubscriptionView]
