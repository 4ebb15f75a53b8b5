"""Request and reply bodies of the ledger routes (amounts in integer minor units)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ledger.postings import MAX_AMOUNT
from server.api import Body, Query, Reply
from server.validate import IsoTime, JsonInt

Month = Annotated[
    str,
    StringConstraints(pattern=r"^\d{4}-\d{2}$"),
    Field(description="a calendar month, YYYY-MM (UTC)"),
]


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


Amount = Annotated[int, Field(gt=0, le=MAX_AMOUNT, description="integer minor units"), JsonInt]
Currency = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(description="ISO 4217 code like EUR")
]
IDEMPOTENCY_HEADER = {
    "Idempotency-Key": {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "description": "the same key returns the first request's payout",
    }
}


class WithdrawIn(Body):
    """How much to withdraw, in which currency, and how to be paid."""

    amount: Amount
    currency: Currency
    method: Annotated[
        str,
        StringConstraints(pattern=r"^[a-z]{1,20}$"),
        Field(description="a payout method: sepa or chain"),
    ]


class PayoutOut(Reply):
    """One withdrawal and where it stands."""

    id: uuid.UUID
    method: str
    currency: str
    amount: int
    status: Literal["pending", "exported", "paid", "failed"]
    batch_id: uuid.UUID | None
    created_at: IsoTime
    settled_at: IsoTime | None


class PayoutList(Reply):
    """The caller's payouts, newest first."""

    payouts: list[PayoutOut]


class SepaAccountIn(Body):
    """The IBAN SEPA payouts go to, and its holder's name."""

    iban: Annotated[str, StringConstraints(min_length=5, max_length=50)]
    name: Annotated[
        str, StringConstraints(min_length=1, max_length=70, pattern=r"^[^\x00-\x1f\x7f]+$")
    ]


class PayoutAccount(Reply):
    """A registered payout destination (the IBAN masked)."""

    method: str
    iban: str
    name: str


class BatchOut(Reply):
    """An exported batch of payouts; its file is at `document`."""

    id: uuid.UUID
    status: str
    currency: str
    total: int
    payouts: list[uuid.UUID]
    document: str


class SettleIn(Body):
    """What the bank did with the batch."""

    outcome: Literal["paid", "failed"]


class Settled(Reply):
    """The payouts of a settled batch."""

    payouts: list[PayoutOut]


class WalletIn(Body):
    """The address the artist's on-chain credits go to (EIP-55 checksummed if mixed case)."""

    address: Annotated[str, StringConstraints(min_length=42, max_length=42)]


class WalletOut(Reply):
    """The registered wallet, checksummed."""

    address: str


class ChainCredit(Reply):
    """One creditRoyalty transaction seen on chain."""

    ref: str = Field(description="the ledger transfer id as bytes32 hex")
    amount: int
    tx_hash: str
    block_number: int


class Blockchain(Reply):
    """An artist's figures on the mirror contract beside the ledger's (token units)."""

    chain_id: int
    contract: str
    wallet: str | None
    on_chain_balance: int
    on_chain_total_credited: int
    ledger_credited: int = Field(description="chain payouts to this wallet the ledger posted")
    ledger_pending: int = Field(description="chain payouts in transit, not yet confirmed")
    in_agreement: bool = Field(description="on-chain total credited equals ledger_credited")
    recent: list[ChainCredit]
