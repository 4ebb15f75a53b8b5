"""Withdrawals: available money reserved as a pending transfer to payouts in transit, then
posted when the method confirms the money arrived, or voided (back to available) if not.

Methods plug in behind `PayoutMethod`: a method says where an artist's money goes
(`destination`), may start paying in the withdrawal's own transaction (`reserved`), and later
calls `settle` for each payout it paid or failed. `sepa` is built
in (ledger/sepa.py); others register themselves with `add_method` at setup.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

from ledger import accounts as acc
from ledger.balances import available
from ledger.errors import LedgerError
from ledger.keys import LEDGER_CONFIG
from ledger.postings import MAX_AMOUNT, Leg, Posting, Resolve, leg_id, post
from server import audit
from server.keys import CLOCK, DB


class PayoutMethod(ABC):
    """A way of paying artists."""

    name: str

    @abstractmethod
    async def destination(
        self, conn: asyncpg.Connection, artist_id: uuid.UUID, currency: str
    ) -> dict[str, Any]:
        """Where this artist's money goes; LedgerError when they cannot be paid this way."""

    @abstractmethod
    async def reserved(self, app: web.Application, conn: asyncpg.Connection, p: Payout) -> None:
        """In the withdrawal's transaction, once the money is reserved: start paying it."""


PAYOUT_METHODS: web.AppKey[dict[str, PayoutMethod]] = web.AppKey("ledger_payout_methods")


def add_method(app: web.Application, method: PayoutMethod) -> None:
    """Offer `method` to artists (at setup)."""
    app.setdefault(PAYOUT_METHODS, {})[method.name] = method


@dataclass(frozen=True)
class Payout:
    """One withdrawal."""

    id: uuid.UUID
    artist_id: uuid.UUID
    method: str
    currency: str
    amount: int
    status: str
    batch_id: uuid.UUID | None
    created_at: datetime
    settled_at: datetime | None


_COLUMNS = """id, artist_id, method, currency, amount, status, batch_id, created_at, settled_at,
              idempotency_key"""


def payout(row: Any) -> Payout:
    """A payout row as the typed object."""
    return Payout(
        row["id"],
        row["artist_id"],
        row["method"],
        row["currency"].strip(),
        int(row["amount"]),
        row["status"],
        row["batch_id"],
        row["created_at"],
        row["settled_at"],
    )


@dataclass(frozen=True)
class Requested:
    """A withdrawal's outcome: the payout, and whether this request created it."""

    payout: Payout
    created: bool


async def withdraw(
    app: web.Application, artist_id: uuid.UUID, amount: int, currency: str, method: str, key: str
) -> Requested:
    """Reserve `amount` of the artist's available money for a payout by `method`.

    The same idempotency key returns the first request's payout; with other fields it is a
    conflict. Refused (LedgerError, nothing written): below the minimum, above what is
    available, a currency the artist has no money in, an unknown or unregistered method, or
    another withdrawal by this method still in flight.
    """
    cfg = app[LEDGER_CONFIG]
    methods = app.get(PAYOUT_METHODS, {})
    if method not in methods:
        raise LedgerError("unknown_method", f"no payout method {method!r}")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise LedgerError("invalid_amount", "amount is a positive integer in minor units")
    if amount < cfg.min_withdrawal:
        raise LedgerError(
            "below_minimum", f"the smallest withdrawal is {cfg.min_withdrawal} minor units"
        )
    async with app[DB].acquire() as conn:
        found = await _by_key(conn, artist_id, key, amount, currency, method)
        if found is not None:
            return Requested(found, False)
        if await available(conn, artist_id, currency) is None:
            raise LedgerError("unknown_currency", f"no balance in {currency}")
        try:
            for attempt in range(5):
                try:
                    async with conn.transaction():
                        return Requested(
                            await _reserve(
                                app, conn, methods[method], artist_id, amount, currency, key
                            ),
                            True,
                        )
                except asyncpg.DeadlockDetectedError:  # a lock cycle broken by the database
                    if attempt == 4:
                        raise
            raise AssertionError("unreachable")
        except asyncpg.UniqueViolationError:
            found = await _by_key(conn, artist_id, key, amount, currency, method)
            if found is not None:
                return Requested(found, False)
            raise LedgerError(
                "withdrawal_in_flight", f"a {method} withdrawal is already in flight"
            ) from None


async def _by_key(
    conn: asyncpg.Connection,
    artist_id: uuid.UUID,
    key: str,
    amount: int,
    currency: str,
    method: str,
) -> Payout | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM ledger_payouts WHERE artist_id = $1 AND idempotency_key = $2",
        artist_id,
        key,
    )
    if row is None:
        return None
    found = payout(row)
    if (found.amount, found.currency, found.method) != (amount, currency, method):
        raise LedgerError(
            "idempotency_mismatch", "this Idempotency-Key was used for a different withdrawal"
        )
    return found


async def _reserve(
    app: web.Application,
    conn: asyncpg.Connection,
    method: PayoutMethod,
    artist_id: uuid.UUID,
    amount: int,
    currency: str,
    key: str,
) -> Payout:
    destination = await method.destination(conn, artist_id, currency)
    pid = uuid.uuid4()
    # The in-flight index makes concurrent requests queue here; the loser sees a conflict.
    row = await conn.fetchrow(
        f"""INSERT INTO ledger_payouts (id, artist_id, method, currency, amount,
                idempotency_key, destination, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_COLUMNS}""",
        pid,
        artist_id,
        method.name,
        currency,
        amount,
        key,
        destination,
        app[CLOCK].now(),
    )
    await post(
        app,
        Posting(
            currency,
            "payout",
            "payout",
            (
                Leg(
                    pid,
                    acc.artist("artist_available", artist_id),
                    acc.PAYOUTS_IN_TRANSIT,
                    amount,
                    pending=True,
                ),
            ),
            ref=str(pid),
            actor=artist_id,
        ),
        conn=conn,
    )
    await audit.record(
        app,
        conn,
        "PAYOUT_REQUESTED",
        actor=artist_id,
        subject=pid,
        amount=amount,
        currency=currency,
        method=method.name,
    )
    found = payout(row)
    await method.reserved(app, conn, found)
    return found


async def settle(
    app: web.Application,
    conn: asyncpg.Connection,
    payout_id: uuid.UUID,
    paid: bool,
    actor: object = None,
) -> Payout:
    """Record that a payout arrived (its transfer posts, and the cash leaves clearing) or
    failed (voided: the money is available again); in the caller's transaction."""
    row = await conn.fetchrow(
        f"""UPDATE ledger_payouts SET status = $2, settled_at = $3
            WHERE id = $1 AND status IN ('pending', 'exported') RETURNING {_COLUMNS}""",
        payout_id,
        "paid" if paid else "failed",
        app[CLOCK].now(),
    )
    if row is None:
        raise LedgerError("not_in_flight", f"payout {payout_id} is not in flight")
    p = payout(row)
    legs: list[Leg | Resolve] = [Resolve(leg_id(p.id, "settle"), p.id, post=paid)]
    if paid:
        legs.append(Leg(leg_id(p.id, "cash"), acc.PAYOUTS_IN_TRANSIT, acc.CLEARING, p.amount))
    await post(app, Posting(p.currency, "payout", "payout", tuple(legs), ref=str(p.id)), conn=conn)
    await audit.record(
        app,
        conn,
        "PAYOUT_SETTLED",
        actor=actor,
        subject=p.id,
        outcome=p.status,
        amount=p.amount,
        currency=p.currency,
    )
    return p


async def listing(conn: asyncpg.Connection, artist_id: uuid.UUID, limit: int = 200) -> list[Payout]:
    """An artist's payouts, newest first."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM ledger_payouts WHERE artist_id = $1
            ORDER BY created_at DESC, id LIMIT $2""",
        artist_id,
        limit,
    )
    return [payout(r) for r in rows]
