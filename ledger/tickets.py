"""Ticket money in the ledger: a sale, its release after the hold, and its reversal.

A sale posts the artist's share as a pending transfer into `artist_pending` and the fees as
posted transfers; once the event has ended and the hold period passed, the pending transfer
is posted and moved on to `artist_available`, net of anything the artist owes. A refund or a
lost dispute reverses the sale: the pending share is voided, a released one is debited from
`available`, and what was already paid out becomes a receivable against the artist.
Ticketing hands these over through `ticket_paid` / `ticket_reversed` inside its own
transaction (the job queue's outbox), so a committed sale or refund cannot miss the ledger.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from aiohttp import web

from ledger import accounts as acc
from ledger.errors import LedgerError
from ledger.keys import LEDGER_CONFIG
from ledger.postings import Leg, Posted, Posting, Resolve, leg_id, post
from server import jobs
from server.errors import ApiError
from server.keys import CLOCK, DB
from server.live.service import get_event

log = logging.getLogger(__name__)

SALE_JOB = "ledger.ticket_paid"
REVERSAL_JOB = "ledger.ticket_reversed"


@dataclass(frozen=True)
class TicketSale:
    """A paid ticket and its split (the parts sum to the price)."""

    ticket_id: uuid.UUID
    event_id: uuid.UUID
    artist_id: uuid.UUID
    currency: str
    price: int
    artist: int
    platform: int
    processing: int


@dataclass(frozen=True)
class TicketReversal:
    """A paid ticket whose money went back to the buyer: `refund` or `chargeback`."""

    ticket_id: uuid.UUID
    event_id: uuid.UUID
    artist_id: uuid.UUID
    currency: str
    price: int
    reason: str = "refund"


def sale_posting(sale: TicketSale) -> Posting:
    """The sale's legs: clearing to the artist (pending), platform revenue and processing."""
    if sale.artist + sale.platform + sale.processing != sale.price:
        raise LedgerError("invalid_posting", "the parts of a sale must sum to its price")
    t = sale.ticket_id
    parts = [
        (acc.artist("artist_pending", sale.artist_id), sale.artist, "artist", True),
        (acc.PLATFORM_REVENUE, sale.platform, "platform", False),
        (acc.PROCESSING, sale.processing, "processing", False),
    ]
    return Posting(
        sale.currency,
        "ticket_sale",
        f"event:{sale.event_id}",
        tuple(
            Leg(leg_id(t, role), acc.CLEARING, account, amount, pending)
            for account, amount, role, pending in parts
            if amount > 0
        ),
        ref=str(t),
    )


async def ticket_paid(app: web.Application, conn: asyncpg.Connection, sale: TicketSale) -> None:
    """Have the sale posted once the caller's transaction commits (never if it rolls back)."""
    if sale.price == 0:
        return
    sale_posting(sale)  # refuse a bad split now, in the caller's transaction
    await jobs.enqueue(
        app, conn, SALE_JOB, _payload(sale), dedupe_key=f"{SALE_JOB}:{sale.ticket_id}"
    )


async def ticket_reversed(
    app: web.Application, conn: asyncpg.Connection, reversal: TicketReversal
) -> None:
    """Have the sale reversed once the caller's transaction commits."""
    if reversal.price == 0:
        return
    await jobs.enqueue(
        app,
        conn,
        REVERSAL_JOB,
        _payload(reversal),
        dedupe_key=f"{REVERSAL_JOB}:{reversal.ticket_id}",
    )


def _payload(obj: Any) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in asdict(obj).items()}


def _uuids(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: uuid.UUID(v) if k.endswith("_id") else v for k, v in payload.items()}


async def sale_job(app: web.Application, payload: dict[str, Any]) -> None:
    """The job: post the sale. Safe to run again: the leg ids make a replay a no-op."""
    await post(app, sale_posting(TicketSale(**_uuids(payload))))


async def reversal_job(app: web.Application, payload: dict[str, Any]) -> None:
    """The job: reverse the sale; raises (the queue retries) while the sale is not posted yet."""
    await reverse(app, TicketReversal(**_uuids(payload)))


async def _sale_legs(conn: asyncpg.Connection, ticket_id: uuid.UUID) -> dict[str, Any]:
    roles = {leg_id(ticket_id, r): r for r in ("artist", "platform", "processing")}
    rows = await conn.fetch(
        """SELECT t.id, t.amount, t.kind, r.kind AS resolved
           FROM ledger_transfers t LEFT JOIN ledger_transfers r ON r.pending_id = t.id
           WHERE t.id = ANY($1)""",
        list(roles),
    )
    return {roles[r["id"]]: r for r in rows}


async def _balance(conn: asyncpg.Connection, account_id: uuid.UUID) -> int:
    """Credits posted minus debits (posted and pending) of an account: what it can give."""
    return int(
        await conn.fetchval(
            """SELECT coalesce(sum(credits_posted - debits_posted - debits_pending), 0)
           FROM ledger_balances WHERE account_id = $1""",
            account_id,
        )
    )


async def reverse(app: web.Application, rev: TicketReversal) -> Posted | None:
    """Post the reversal of a ticket's sale (idempotent by leg ids)."""
    t, cur = rev.ticket_id, rev.currency
    done = [
        leg_id(t, "reverse", r)
        for r in ("platform", "processing", "void", "available", "receivable")
    ]
    async with app[DB].acquire() as conn:
        if await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM ledger_transfers WHERE id = ANY($1))", done
        ):
            return None  # reversed already (a retried job)
        legs = await _sale_legs(conn, t)
        available = await _balance(conn, acc.artist("artist_available", rev.artist_id).id(cur))
    if not legs:
        raise LedgerError("not_found", f"the sale of ticket {t} is not in the ledger yet")
    out: list[Leg | Resolve] = []
    for role, account in (("platform", acc.PLATFORM_REVENUE), ("processing", acc.PROCESSING)):
        if role in legs:
            out.append(
                Leg(leg_id(t, "reverse", role), account, acc.CLEARING, int(legs[role]["amount"]))
            )
    artist = legs.get("artist")
    if artist is not None and artist["resolved"] is None:
        out.append(Resolve(leg_id(t, "reverse", "void"), artist["id"], post=False))
    elif artist is not None and artist["resolved"] == "post_pending":
        owed = int(artist["amount"])
        taken = min(owed, max(available, 0))
        if taken:
            out.append(
                Leg(
                    leg_id(t, "reverse", "available"),
                    acc.artist("artist_available", rev.artist_id),
                    acc.CLEARING,
                    taken,
                )
            )
        if owed - taken:
            out.append(
                Leg(
                    leg_id(t, "reverse", "receivable"),
                    acc.artist("artist_receivable", rev.artist_id),
                    acc.CLEARING,
                    owed - taken,
                )
            )
    if not out:
        return None
    return await post(
        app, Posting(cur, f"ticket_{rev.reason}", f"event:{rev.event_id}", tuple(out), ref=str(t))
    )


async def release_due(app: web.Application, limit: int = 1000) -> int:
    """Release the artist's share of every sale whose event ended more than the hold period
    ago; returns how many sales were released."""
    hold = timedelta(days=app[LEDGER_CONFIG].hold_days)
    now = app[CLOCK].now()
    async with app[DB].acquire() as conn:
        sources = await conn.fetch(
            """SELECT DISTINCT t.source FROM ledger_transfers t
               WHERE t.kind = 'pending' AND t.code = 'ticket_sale'
                 AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = t.id)"""
        )
    done = 0
    for row in sources:
        event_id = uuid.UUID(row["source"].removeprefix("event:"))
        try:
            event = await get_event(app, event_id)
        except ApiError:
            continue
        if event.status != "ended" or event.ended_at is None or event.ended_at + hold > now:
            continue
        async with app[DB].acquire() as conn:
            pendings = await conn.fetch(
                """SELECT t.id, t.amount, t.currency, t.credit_account_id, t.ref, a.owner_id
                   FROM ledger_transfers t JOIN ledger_accounts a ON a.id = t.credit_account_id
                   WHERE t.kind = 'pending' AND t.code = 'ticket_sale' AND t.source = $1
                     AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = t.id)
                   LIMIT $2""",
                row["source"],
                limit,
            )
        for p in pendings:
            try:
                await release(app, p, row["source"])
                done += 1
            except LedgerError as exc:  # refunded meanwhile: the void won
                log.info("release of %s skipped: %s", p["ref"], exc.message)
    return done


async def release(app: web.Application, pending: Any, source: str) -> Posted:
    """Post one sale's pending share and move it to available, net of what the artist owes."""
    artist_id, cur, amount = (
        pending["owner_id"],
        pending["currency"].strip(),
        int(pending["amount"]),
    )
    ticket = pending["ref"]
    receivable = acc.artist("artist_receivable", artist_id)
    async with app[DB].acquire() as conn:
        owed = -await _balance(conn, receivable.id(cur))
    legs: list[Leg | Resolve] = [
        Resolve(leg_id(ticket, "release", "post"), pending["id"], post=True),
        Leg(
            leg_id(ticket, "release", "move"),
            acc.artist("artist_pending", artist_id),
            acc.artist("artist_available", artist_id),
            amount,
        ),
    ]
    if owed > 0:
        legs.append(
            Leg(
                leg_id(ticket, "release", "net"),
                acc.artist("artist_available", artist_id),
                receivable,
                min(owed, amount),
            )
        )
    return await post(app, Posting(cur, "ticket_release", source, tuple(legs), ref=ticket))


async def release_job(app: web.Application) -> None:
    """The schedule: release what is due."""
    released = await release_due(app)
    if released:
        log.info("released %d ticket sales to artists", released)
