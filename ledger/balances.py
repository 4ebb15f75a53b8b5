"""What the ledger owes each artist, per currency, read from the balance rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class Balance:
    """An artist's position in one currency, in minor units."""

    currency: str
    pending: int  # sold, not yet released (event not over plus the hold period)
    available: int  # may be withdrawn
    in_transit: int  # withdrawn, not yet confirmed paid
    receivable: int  # owed by the artist (refunds after payout), netted from later earnings


async def artist_balances(conn: asyncpg.Connection, artist_id: uuid.UUID) -> list[Balance]:
    """The artist's balances, one per currency it has accounts in."""
    rows = await conn.fetch(
        """SELECT a.code, a.currency, sum(b.debits_pending) AS dpe, sum(b.debits_posted) AS dpo,
                  sum(b.credits_pending) AS cpe, sum(b.credits_posted) AS cpo
           FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id
           WHERE a.owner_id = $1 GROUP BY a.code, a.currency""",
        artist_id,
    )
    by: dict[str, dict[str, int]] = {}
    for r in rows:
        cur = r["currency"].strip()
        d = by.setdefault(cur, {"pending": 0, "available": 0, "in_transit": 0, "receivable": 0})
        dpe, dpo, cpe, cpo = (int(r[k]) for k in ("dpe", "dpo", "cpe", "cpo"))
        if r["code"] == "artist_pending":
            d["pending"] = cpe + cpo - dpo - dpe
        elif r["code"] == "artist_available":
            d["available"] = cpo - dpo - dpe
            d["in_transit"] = dpe
        elif r["code"] == "artist_receivable":
            d["receivable"] = dpo - cpo
    return [Balance(cur, **v) for cur, v in sorted(by.items())]


async def available(conn: asyncpg.Connection, artist_id: uuid.UUID, currency: str) -> int | None:
    """What the artist may withdraw in `currency`; None when it has no account in it."""
    value = await conn.fetchval(
        """SELECT b.credits_posted - b.debits_posted - b.debits_pending
           FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id
           WHERE a.owner_id = $1 AND a.code = 'artist_available' AND a.currency = $2""",
        artist_id,
        currency,
    )
    return None if value is None else int(value)
