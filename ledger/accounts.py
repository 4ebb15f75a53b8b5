"""The chart of accounts: which accounts exist, their limit flags, and their deterministic ids."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass

import asyncpg

from ledger.errors import LedgerError

_NS = uuid.UUID("6f0c52d3-1b49-4d0e-9a55-2d3f4f0c7e11")
# Platform accounts take every sale; spreading each over shards keeps postings from queueing
# on one row. Their balance is the sum of the shards.
PLATFORM_SHARDS = 16


@dataclass(frozen=True)
class Kind:
    """One kind of account: whose it is and what its balance may never do."""

    artist: bool
    debits_must_not_exceed_credits: bool = False
    credits_must_not_exceed_debits: bool = False


KINDS: dict[str, Kind] = {
    # the payment provider's (and bank's) money held by the platform: a debit balance
    "clearing": Kind(artist=False),
    "platform_revenue": Kind(artist=False),
    "processing": Kind(artist=False),
    "payouts_in_transit": Kind(artist=False),
    "tips_clearing": Kind(artist=False),
    "dsp_clearing": Kind(artist=False),
    # what the platform owes an artist, not yet releasable / releasable
    "artist_pending": Kind(artist=True, debits_must_not_exceed_credits=True),
    "artist_available": Kind(artist=True, debits_must_not_exceed_credits=True),
    # what an artist owes the platform (a refund after payout), netted from later earnings
    "artist_receivable": Kind(artist=True, credits_must_not_exceed_debits=True),
}


@functools.lru_cache(maxsize=65536)
def _account_id(code: str, owner: uuid.UUID | None, currency: str) -> uuid.UUID:
    return uuid.uuid5(_NS, f"{code}:{owner or ''}:{currency}")


@dataclass(frozen=True)
class Account:
    """An account named by kind and owner (the artist, or None for the platform's own)."""

    code: str
    owner: uuid.UUID | None = None

    def id(self, currency: str) -> uuid.UUID:
        """The account's id in `currency`: derived, so naming an account needs no lookup."""
        return _account_id(self.code, self.owner, currency)

    def check(self) -> Kind:
        """The account's kind, or LedgerError if the name is not in the chart."""
        kind = KINDS.get(self.code)
        if kind is None:
            raise LedgerError("invalid_posting", f"no account kind {self.code!r}")
        if kind.artist != (self.owner is not None):
            raise LedgerError(
                "invalid_posting",
                f"{self.code} accounts {'need' if kind.artist else 'have no'} owner",
            )
        return kind


def artist(code: str, owner: uuid.UUID) -> Account:
    """An artist's account of kind `code`."""
    return Account(code, owner)


CLEARING = Account("clearing")
PLATFORM_REVENUE = Account("platform_revenue")
PROCESSING = Account("processing")
PAYOUTS_IN_TRANSIT = Account("payouts_in_transit")
TIPS_CLEARING = Account("tips_clearing")
DSP_CLEARING = Account("dsp_clearing")


async def ensure(conn: asyncpg.Connection, accounts: list[tuple[Account, str]]) -> None:
    """Create the accounts (and their zero balance rows) that do not exist yet."""
    rows = []
    for account, currency in accounts:
        kind = account.check()
        shards = 1 if kind.artist else PLATFORM_SHARDS
        rows.append(
            (
                account.id(currency),
                account.code,
                account.owner,
                currency,
                kind.debits_must_not_exceed_credits,
                kind.credits_must_not_exceed_debits,
                shards,
            )
        )
    await conn.execute(
        """WITH new AS (
               INSERT INTO ledger_accounts (id, code, owner_id, currency,
                   debits_must_not_exceed_credits, credits_must_not_exceed_debits, shards)
               SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[],
                                    $5::bool[], $6::bool[], $7::smallint[])
               ON CONFLICT DO NOTHING
               RETURNING id, shards, debits_must_not_exceed_credits,
                         credits_must_not_exceed_debits)
           INSERT INTO ledger_balances (account_id, shard, debits_must_not_exceed_credits,
                                        credits_must_not_exceed_debits)
           SELECT id, s, debits_must_not_exceed_credits, credits_must_not_exceed_debits
           FROM new, generate_series(0, new.shards - 1) AS s""",
        *[list(col) for col in zip(*rows, strict=True)],
    )
