"""Monthly royalty statements: per source, what was sold and who got what, with the artist's
balance at the start and end of the month, all read from the ledger's transfers.

An artist's balance is what the platform owes them: the artist accounts' credits minus debits
(pending ones included, voids undoing them), less what they owe (the receivable). Lines are
the money flows of earning postings (sales and their reversals, tips, royalties); payouts are
shown apart. closing = opening + sum(artist share of the lines) - payouts, to the cent.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from ledger.errors import LedgerError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
EARNING_CODES = ("ticket_sale", "ticket_refund", "ticket_chargeback", "tip", "royalty")


@dataclass(frozen=True)
class Line:
    """One source's month: a sale event (`event:<id>`), `tip`, or a DSP (`dsp:<name>`)."""

    source: str
    gross: int
    platform_fee: int
    processing: int
    artist_payout: int


@dataclass(frozen=True)
class CurrencyStatement:
    """One currency's lines and balances."""

    currency: str
    opening: int
    closing: int
    payouts: int
    lines: list[Line] = field(default_factory=list)


@dataclass(frozen=True)
class Statement:
    """An artist's month."""

    artist_id: uuid.UUID
    month: str
    currencies: list[CurrencyStatement]


def month_range(month: str) -> tuple[datetime, datetime]:
    """The month's [start, end) in UTC, or LedgerError for a malformed or out-of-range month."""
    m = _MONTH.match(month)
    if m is None or not (2000 <= int(m.group(1)) <= 2999 and 1 <= int(m.group(2)) <= 12):
        raise LedgerError("invalid_month", "month must be YYYY-MM (2000-01 to 2999-12)")
    year, mon = int(m.group(1)), int(m.group(2))
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)
    return start, end


# Each transfer's effect on the artist (credit +, debit -); a void undoes its pending
# transfer, a post of one changes nothing the pending transfer did not already count.
_EFFECTS = """
WITH mine AS (SELECT id FROM ledger_accounts WHERE owner_id = $1),
t AS (
    SELECT t.*, CASE t.kind WHEN 'post_pending' THEN 0 WHEN 'void_pending' THEN -1 ELSE 1 END
                * t.amount AS signed,
           t.credit_account_id IN (SELECT id FROM mine) AS to_artist,
           t.debit_account_id IN (SELECT id FROM mine) AS from_artist
    FROM ledger_transfers t
    WHERE t.posting_id IN (
        SELECT posting_id FROM ledger_transfers
        WHERE (credit_account_id IN (SELECT id FROM mine)
               OR debit_account_id IN (SELECT id FROM mine)) AND created_at < $3)
      AND t.created_at < $3
)
"""

_BALANCES = (
    _EFFECTS
    + """
SELECT currency,
       coalesce(sum(CASE WHEN to_artist THEN signed ELSE 0 END
                    - CASE WHEN from_artist THEN signed ELSE 0 END)
                FILTER (WHERE created_at < $2), 0) AS opening,
       coalesce(sum(CASE WHEN to_artist THEN signed ELSE 0 END
                    - CASE WHEN from_artist THEN signed ELSE 0 END), 0) AS closing,
       coalesce(sum(CASE WHEN from_artist THEN signed ELSE 0 END
                    - CASE WHEN to_artist THEN signed ELSE 0 END)
                FILTER (WHERE created_at >= $2 AND code = 'payout'), 0) AS payouts,
       bool_or(created_at >= $2) AS active
FROM t GROUP BY currency ORDER BY currency
"""
)

_LINES = (
    _EFFECTS
    + """
SELECT t.currency, t.source,
       coalesce(sum(CASE WHEN to_artist THEN signed ELSE 0 END
                    - CASE WHEN from_artist THEN signed ELSE 0 END), 0) AS artist,
       coalesce(sum(CASE WHEN c.code = 'platform_revenue' THEN signed ELSE 0 END
                    - CASE WHEN d.code = 'platform_revenue' THEN signed ELSE 0 END), 0)
           AS platform,
       coalesce(sum(CASE WHEN c.code = 'processing' THEN signed ELSE 0 END
                    - CASE WHEN d.code = 'processing' THEN signed ELSE 0 END), 0) AS processing
FROM t JOIN ledger_accounts c ON c.id = t.credit_account_id
       JOIN ledger_accounts d ON d.id = t.debit_account_id
WHERE t.created_at >= $2 AND t.code = ANY($4::text[])
GROUP BY t.currency, t.source ORDER BY t.currency, t.source
"""
)


async def statement(conn: asyncpg.Connection, artist_id: uuid.UUID, month: str) -> Statement:
    """The artist's statement of `month`; a month with nothing in it has no currencies."""
    start, end = month_range(month)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        balances = await conn.fetch(_BALANCES, artist_id, start, end)
        lines = await conn.fetch(_LINES, artist_id, start, end, list(EARNING_CODES))
    out = []
    for b in balances:
        cur = b["currency"].strip()
        if not b["active"] and b["opening"] == 0:
            continue
        out.append(
            CurrencyStatement(
                cur,
                int(b["opening"]),
                int(b["closing"]),
                int(b["payouts"]),
                [
                    Line(
                        r["source"],
                        int(r["artist"] + r["platform"] + r["processing"]),
                        int(r["platform"]),
                        int(r["processing"]),
                        int(r["artist"]),
                    )
                    for r in lines
                    if r["currency"].strip() == cur
                ],
            )
        )
    return Statement(artist_id, month, out)


def to_csv(st: Statement) -> str:
    """The statement as CSV: amounts in minor units, one row per line plus the balances."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "artist_id",
            "month",
            "currency",
            "row",
            "gross",
            "platform_fee",
            "processing",
            "artist_payout",
            "balance",
        ]
    )
    for c in st.currencies:
        base = [str(st.artist_id), st.month, c.currency]
        w.writerow([*base, "opening", "", "", "", "", c.opening])
        for line in c.lines:
            w.writerow(
                [
                    *base,
                    line.source,
                    line.gross,
                    line.platform_fee,
                    line.processing,
                    line.artist_payout,
                    "",
                ]
            )
        w.writerow([*base, "payouts", "", "", "", -c.payouts, ""])
        w.writerow([*base, "closing", "", "", "", "", c.closing])
    return buf.getvalue()
