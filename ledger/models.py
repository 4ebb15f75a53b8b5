"""Request and reply bodies of the ledger routes (amounts in integer minor units)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from server.api import Query, Reply

Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}$"),
                  Field(description="a calendar month, YYYY-MM (UTC)")]


class CurrencyBalance(Reply):
    """An artist's position in one currency."""

    currency: str
    pending: int = Field(description="sold, released once the event ended plus the hold")
    available: int = Field(description="may be withdrawn")
    in_transit: int = Field(description="withdrawn, not yet confirmed paid")
    receivable: int = Field(description="owed by the artist, netted from later earnings")


class Balances(Reply):
    """The caller's balances, one per currency."""

    artist_id: uuid.UUID
    balances: list[CurrencyBalance]


class StatementQuery(Query):
    """Which month, for whom (admins only name another artist), and how."""

    month: Month
    format: Literal["json", "csv"] = "json"
    artist_id: uuid.UUID | None = None


class StatementLine(Reply):
    """One source's month: `event:<id>`, `tip` or `dsp:<name>`."""

    source: str
    gross: int
    platform_fee: int
    processing: int
    artist_payout: int


class CurrencyStatement(Reply):
    """One currency of a statement: closing = opening + sum(artist_payout) - payouts."""

    currency: str
    opening: int
    closing: int
    payouts: int
    lines: list[StatementLine]


class Statement(Reply):
    """An artist's royalty statement of one month (no currencies: nothing happened)."""

    artist_id: uuid.UUID
    month: str
    currencies: list[CurrencyStatement]
