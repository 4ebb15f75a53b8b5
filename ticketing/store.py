"""SQL for the ticketing tables; nothing else touches them.

Seat accounting: `ticket_stock.held` counts an event's tickets in a holding status (reserved,
paid, refunding). Every statement that moves a ticket into or out of those statuses adjusts it
in the same statement or transaction, so `held` never exceeds capacity and never drifts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from ticketing.split import Split

HOLDING = ("reserved", "paid", "refunding")
CLOSED = ("released", "refunded", "revoked")
COLUMNS = """id, event_id, user_id, status, amount_minor, currency, replay_access, provider,
             payment_ref, reserved_until, paid_at, admitted_at, session_id, replay_session_id,
             closed_at, close_reason, created_at"""


# --- seats -------------------------------------------------------------------------------


async def claim_seat(conn: asyncpg.Connection, event_id: uuid.UUID, capacity: int | None) -> bool:
    """Take one seat if one is free (locks the event's stock row until the transaction ends)."""
    take = """UPDATE ticket_stock SET held = held + 1
              WHERE event_id = $1 AND ($2::int IS NULL OR held < $2) RETURNING held"""
    if await conn.fetchrow(take, event_id, capacity) is not None:
        return True
    # First sale of the event (or sold out): make sure the row exists, then try once more.
    await conn.execute(
        "INSERT INTO ticket_stock (event_id) VALUES ($1) ON CONFLICT DO NOTHING", event_id
    )
    return await conn.fetchrow(take, event_id, capacity) is not None


async def held(conn: asyncpg.Connection, event_id: uuid.UUID) -> int:
    """Seats currently held for an event."""
    value = await conn.fetchval("SELECT held FROM ticket_stock WHERE event_id = $1", event_id)
    return int(value or 0)


# --- tickets -----------------------------------------------------------------------------


async def get(conn: asyncpg.Connection, ticket_id: uuid.UUID) -> asyncpg.Record | None:
    """One ticket."""
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM tickets WHERE id = $1", ticket_id)


async def by_payment_ref(conn: asyncpg.Connection, ref: str) -> asyncpg.Record | None:
    """The ticket a provider payment belongs to."""
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM tickets WHERE payment_ref = $1", ref)


async def active_for_user(
    conn: asyncpg.Connection, event_id: uuid.UUID, user_id: uuid.UUID
) -> asyncpg.Record | None:
    """The user's held, paid or refunding ticket for an event."""
    return await conn.fetchrow(
        f"""SELECT {COLUMNS} FROM tickets
            WHERE event_id = $1 AND user_id = $2 AND status = ANY($3::text[])""",
        event_id,
        user_id,
        list(HOLDING),
    )


async def list_for_user(
    conn: asyncpg.Connection, user_id: uuid.UUID, limit: int
) -> list[asyncpg.Record]:
    """A user's tickets, newest first."""
    return list(
        await conn.fetch(
            f"SELECT {COLUMNS} FROM tickets WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2",
            user_id,
            limit,
        )
    )


async def insert_reserved(
    conn: asyncpg.Connection,
    ticket_id: uuid.UUID,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    amount: int,
    currency: str,
    replay_access: bool,
    provider: str,
    now: datetime,
    until: datetime,
) -> asyncpg.Record:
    """A new held ticket (raises UniqueViolationError if the user already holds one)."""
    row = await conn.fetchrow(
        f"""INSERT INTO tickets (id, event_id, user_id, status, amount_minor, currency,
                                 replay_access, provider, reserved_until, created_at, updated_at)
            VALUES ($1, $2, $3, 'reserved', $4, $5, $6, $7, $8, $9, $9) RETURNING {COLUMNS}""",
        ticket_id,
        event_id,
        user_id,
        amount,
        currency,
        replay_access,
        provider,
        until,
        now,
    )
    assert row is not None
    return row


async def set_payment_ref(conn: asyncpg.Connection, ticket_id: uuid.UUID, ref: str) -> bool:
    """Attach the provider's payment id to a ticket that has none yet."""
    result = await conn.execute(
        "UPDATE tickets SET payment_ref = $2 WHERE id = $1 AND payment_ref IS NULL", ticket_id, ref
    )
    return bool(result.endswith(" 1"))


async def transition(
    conn: asyncpg.Connection,
    ticket_id: uuid.UUID,
    from_statuses: tuple[str, ...],
    to_status: str,
    now: datetime,
    reason: str | None = None,
) -> asyncpg.Record | None:
    """Move a ticket between statuses atomically, releasing its seat when it stops holding one.

    Never used to start holding a seat (see `reacquire`); None when the ticket was not in
    one of `from_statuses`.
    """
    assert to_status not in HOLDING or set(from_statuses) <= set(HOLDING)
    return await conn.fetchrow(
        f"""WITH old AS (
                SELECT id, status FROM tickets
                WHERE id = $1 AND status = ANY($2::text[]) FOR UPDATE
            ), t AS (
                UPDATE tickets SET status = $3, updated_at = $4,
                    closed_at = CASE WHEN $3 = ANY($6::text[]) THEN $4 ELSE closed_at END,
                    close_reason = coalesce($5, close_reason)
                FROM old WHERE tickets.id = old.id
                RETURNING {", ".join("tickets." + c.strip() for c in COLUMNS.split(","))},
                          old.status AS old_status
            ), s AS (
                UPDATE ticket_stock SET held = held - 1
                WHERE event_id = (SELECT event_id FROM t WHERE old_status = ANY($7::text[])
                                  AND NOT (status = ANY($7::text[])))
            )
            SELECT * FROM t""",
        ticket_id,
        list(from_statuses),
        to_status,
        now,
        reason,
        list(CLOSED),
        list(HOLDING),
    )


async def mark_paid(
    conn: asyncpg.Connection, ticket_id: uuid.UUID, now: datetime
) -> asyncpg.Record | None:
    """Issue a held ticket (reserved -> paid); None if it is no longer held."""
    return await conn.fetchrow(
        f"""UPDATE tickets SET status = 'paid', paid_at = $2, updated_at = $2
            WHERE id = $1 AND status = 'reserved' RETURNING {COLUMNS}""",
        ticket_id,
        now,
    )


async def reacquire(
    conn: asyncpg.Connection, ticket: Any, capacity: int | None, now: datetime
) -> asyncpg.Record | None:
    """Issue a released ticket whose payment arrived late, if a seat is still free.

    Call inside a transaction; raises UniqueViolationError when the user holds another ticket.
    The ticket moves first and the seat is claimed only when this call moved it, so of
    concurrent settlements exactly one takes a seat. Raises SeatUnavailable (rolling the
    transaction back) when the event is full.
    """
    row = await conn.fetchrow(
        f"""UPDATE tickets SET status = 'paid', paid_at = $2, updated_at = $2, closed_at = NULL,
                               close_reason = NULL
            WHERE id = $1 AND status = 'released' RETURNING {COLUMNS}""",
        ticket["id"],
        now,
    )
    if row is None:
        return None
    if not await claim_seat(conn, ticket["event_id"], capacity):
        raise SeatUnavailable(ticket["id"])
    return row


class SeatUnavailable(Exception):
    """No seat was free for a ticket being (re-)issued; the transaction must roll back."""


async def reserved_tickets(conn: asyncpg.Connection, event_id: uuid.UUID) -> list[asyncpg.Record]:
    """An event's held (unpaid) tickets."""
    return list(
        await conn.fetch(
            f"SELECT {COLUMNS} FROM tickets WHERE event_id = $1 AND status = 'reserved'", event_id
        )
    )


async def record_cancelled_event(conn: asyncpg.Connection, event_id: uuid.UUID) -> None:
    """Remember that an event was cancelled (its paid tickets must all be refunded)."""
    await conn.execute(
        "INSERT INTO ticketing_cancelled_events (event_id) VALUES ($1) ON CONFLICT DO NOTHING",
        event_id,
    )


async def paid_of_cancelled_events(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Paid tickets whose event was cancelled (their refund failed or has not run yet)."""
    return list(
        await conn.fetch(
            f"""SELECT {COLUMNS} FROM tickets
            WHERE status = 'paid'
              AND event_id IN (SELECT event_id FROM ticketing_cancelled_events)
            ORDER BY updated_at LIMIT $1""",
            limit,
        )
    )


async def stale_refunding(
    conn: asyncpg.Connection, before: datetime, limit: int
) -> list[asyncpg.Record]:
    """Tickets left in 'refunding' since before `before` (a refund interrupted midway)."""
    return list(
        await conn.fetch(
            f"""SELECT {COLUMNS} FROM tickets WHERE status = 'refunding' AND updated_at < $1
            ORDER BY updated_at LIMIT $2""",
            before,
            limit,
        )
    )


async def due_reservations(
    conn: asyncpg.Connection, now: datetime, limit: int
) -> list[asyncpg.Record]:
    """Held tickets whose hold has run out."""
    return list(
        await conn.fetch(
            f"""SELECT {COLUMNS} FROM tickets WHERE status = 'reserved' AND reserved_until <= $1
            ORDER BY reserved_until LIMIT $2""",
            now,
            limit,
        )
    )


async def release_expired(
    conn: asyncpg.Connection, event_id: uuid.UUID, now: datetime, user_id: uuid.UUID | None = None
) -> list[asyncpg.Record]:
    """Release an event's (or one user's) expired holds and their seats in one statement."""
    return list(
        await conn.fetch(
            f"""WITH t AS (
                UPDATE tickets SET status = 'released', closed_at = $2, updated_at = $2,
                                   close_reason = 'expired'
                WHERE event_id = $1 AND status = 'reserved' AND reserved_until <= $2
                  AND ($3::uuid IS NULL OR user_id = $3)
                RETURNING {COLUMNS}
            ), s AS (
                UPDATE ticket_stock SET held = held - (SELECT count(*) FROM t)
                WHERE event_id = $1 AND EXISTS (SELECT 1 FROM t)
            )
            SELECT * FROM t""",
            event_id,
            now,
            user_id,
        )
    )


async def admit(
    conn: asyncpg.Connection,
    ticket_id: uuid.UUID,
    user_id: uuid.UUID,
    event_id: uuid.UUID,
    now: datetime,
) -> bool:
    """The single-use admission: true for exactly one caller per paid ticket."""
    result = await conn.execute(
        """UPDATE tickets SET admitted_at = $4, updated_at = $4
           WHERE id = $1 AND user_id = $2 AND event_id = $3 AND status = 'paid'
             AND admitted_at IS NULL""",
        ticket_id,
        user_id,
        event_id,
        now,
    )
    return bool(result.endswith(" 1"))


@dataclass(frozen=True)
class Admit:
    """One admission to try: the owner's ticket for the event, opening session `session_id`."""

    ticket_id: uuid.UUID
    user_id: uuid.UUID
    event_id: uuid.UUID
    at: datetime
    session_id: uuid.UUID


async def admit_and_open(conn: asyncpg.Connection, admits: Sequence[Admit]) -> set[uuid.UUID]:
    """Single-use admissions and their first viewing sessions, in one statement: while the
    event is open (server.live's `live_event_open`), admit the owner's paid ticket, make
    `session_id` its session and open that session (server.playback's
    `playback_open_session`). Returns the session ids of the admissions made; nothing is
    written for the others."""
    # A ticket gets a session only here and, once admitted, in swap_session, so one not yet
    # admitted has none to hand over: no row lock to read a previous session first. Of
    # concurrent admissions of a ticket the UPDATE's re-check of `admitted_at IS NULL` lets
    # one win; of two in this statement, PostgreSQL updates the row once, from one of them,
    # and returns only that one.
    rows = await conn.fetch(
        """UPDATE tickets AS t
              SET admitted_at = a.at, updated_at = a.at, session_id = a.session_id
             FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::uuid[])
                  AS a(ticket_id, user_id, event_id, at, session_id)
            WHERE t.id = a.ticket_id AND t.user_id = a.user_id AND t.event_id = a.event_id
              AND t.status = 'paid' AND t.admitted_at IS NULL AND live_event_open(a.event_id)
        RETURNING playback_open_session(a.session_id, a.user_id, a.event_id, 'live')""",
        [a.ticket_id for a in admits],
        [a.user_id for a in admits],
        [a.event_id for a in admits],
        [a.at for a in admits],
        [a.session_id for a in admits],
    )
    return {row[0] for row in rows}


async def swap_session(
    conn: asyncpg.Connection, ticket_id: uuid.UUID, session_id: uuid.UUID, replay: bool = False
) -> tuple[bool, uuid.UUID | None]:
    """Make `session_id` the ticket's (replay) session while it is paid; (swapped, previous)."""
    column = "replay_session_id" if replay else "session_id"
    row = await conn.fetchrow(
        f"""WITH old AS (SELECT id, {column} AS previous FROM tickets
                         WHERE id = $1 AND status = 'paid' FOR UPDATE)
            UPDATE tickets SET {column} = $2 FROM old WHERE tickets.id = old.id
            RETURNING old.previous""",
        ticket_id,
        session_id,
    )
    if row is None:
        return False, None
    return True, row["previous"]


async def admitted_ticket(
    conn: asyncpg.Connection, user_id: uuid.UUID, event_id: uuid.UUID
) -> bool:
    """Whether the user holds a paid, admitted ticket for the event."""
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM tickets WHERE user_id = $1 AND event_id = $2
                          AND status = 'paid' AND admitted_at IS NOT NULL)""",
            user_id,
            event_id,
        )
    )


async def paid_tickets(conn: asyncpg.Connection, event_id: uuid.UUID) -> list[asyncpg.Record]:
    """An event's paid tickets."""
    return list(
        await conn.fetch(
            f"SELECT {COLUMNS} FROM tickets WHERE event_id = $1 AND status = 'paid'", event_id
        )
    )


# --- sales -------------------------------------------------------------------------------


async def insert_sale(
    conn: asyncpg.Connection,
    ticket: Any,
    parts: Split,
    now: datetime,
    artist_id: uuid.UUID | None = None,
) -> None:
    """Record the split of a sale (once per ticket)."""
    await conn.execute(
        """INSERT INTO ticket_sales (ticket_id, event_id, price_minor, currency, artist_minor,
                                     platform_minor, processing_minor, created_at, artist_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (ticket_id) DO UPDATE SET refunded_at = NULL""",
        ticket["id"],
        ticket["event_id"],
        parts.price,
        ticket["currency"],
        parts.artist,
        parts.platform,
        parts.processing,
        now,
        artist_id,
    )


async def sales_by_bucket(
    conn: asyncpg.Connection, artist_id: uuid.UUID, start: datetime, end: datetime, bucket: str
) -> list[asyncpg.Record]:
    """An artist's kept sales per bucket and currency: start, count, amount."""
    return list(
        await conn.fetch(
            """SELECT date_trunc($4, created_at, 'UTC') AS start, currency,
                      count(*) AS count, sum(price_minor) AS amount
               FROM ticket_sales
               WHERE artist_id = $1 AND created_at >= $2 AND created_at < $3
                 AND refunded_at IS NULL
               GROUP BY 1, 2 ORDER BY 1, 2""",
            artist_id,
            start,
            end,
            bucket,
        )
    )


async def sale_refunded(conn: asyncpg.Connection, ticket_id: uuid.UUID, now: datetime) -> None:
    """Mark a sale as refunded (or charged back); it stays on record."""
    await conn.execute(
        "UPDATE ticket_sales SET refunded_at = $2 WHERE ticket_id = $1 AND refunded_at IS NULL",
        ticket_id,
        now,
    )


async def sales(conn: asyncpg.Connection, event_id: uuid.UUID, limit: int) -> list[asyncpg.Record]:
    """An event's sales, oldest first."""
    return list(
        await conn.fetch(
            """SELECT ticket_id, price_minor, currency, artist_minor, platform_minor,
                  processing_minor, refunded_at, created_at
           FROM ticket_sales WHERE event_id = $1 ORDER BY created_at, ticket_id LIMIT $2""",
            event_id,
            limit,
        )
    )


async def sales_totals(conn: asyncpg.Connection, event_id: uuid.UUID) -> list[asyncpg.Record]:
    """Per currency: sales kept and refunded, and the sums of the kept ones."""
    return list(
        await conn.fetch(
            """SELECT currency,
                  count(*) FILTER (WHERE refunded_at IS NULL) AS sold,
                  count(*) FILTER (WHERE refunded_at IS NOT NULL) AS refunded,
                  coalesce(sum(price_minor) FILTER (WHERE refunded_at IS NULL), 0)::bigint
                      AS gross,
                  coalesce(sum(artist_minor) FILTER (WHERE refunded_at IS NULL), 0)::bigint
                      AS artist,
                  coalesce(sum(platform_minor) FILTER (WHERE refunded_at IS NULL), 0)::bigint
                      AS platform,
                  coalesce(sum(processing_minor) FILTER (WHERE refunded_at IS NULL), 0)::bigint
                      AS processing
           FROM ticket_sales WHERE event_id = $1 GROUP BY currency ORDER BY currency""",
            event_id,
        )
    )


async def attendance(conn: asyncpg.Connection, event_id: uuid.UUID) -> int:
    """Paid tickets admitted to the event."""
    return int(
        await conn.fetchval(
            """SELECT count(*) FROM tickets
           WHERE event_id = $1 AND status = 'paid' AND admitted_at IS NOT NULL""",
            event_id,
        )
    )


# --- webhooks ----------------------------------------------------------------------------

CLAIMED, PROCESSED, IN_FLIGHT = "claimed", "processed", "in_flight"


async def claim_webhook(
    conn: asyncpg.Connection,
    event_id: str,
    provider: str,
    kind: str,
    now: datetime,
    stale_before: datetime | None = None,
) -> str:
    """Claim a provider event for processing: CLAIMED (new, or an unfinished claim made before
    `stale_before` taken over), PROCESSED (seen and done), or IN_FLIGHT (being processed)."""
    claimed = await conn.fetchval(
        """INSERT INTO payment_webhook_events AS w (id, provider, type, received_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET received_at = excluded.received_at
               WHERE w.processed_at IS NULL AND w.received_at < $5
           RETURNING true""",
        event_id,
        provider,
        kind,
        now,
        stale_before,
    )
    if claimed:
        return CLAIMED
    processed = await conn.fetchval(
        "SELECT processed_at IS NOT NULL FROM payment_webhook_events WHERE id = $1", event_id
    )
    # No row: a failed attempt just gave its claim back, so this delivery should be retried.
    return PROCESSED if processed else IN_FLIGHT


async def unclaim_webhook(conn: asyncpg.Connection, event_id: str) -> None:
    """Forget a claim whose processing failed, so the provider's retry is processed."""
    await conn.execute(
        "DELETE FROM payment_webhook_events WHERE id = $1 AND processed_at IS NULL", event_id
    )


async def finish_webhook(conn: asyncpg.Connection, event_id: str, now: datetime) -> None:
    """Mark a provider event processed."""
    await conn.execute(
        "UPDATE payment_webhook_events SET processed_at = $2 WHERE id = $1", event_id, now
    )


# --- dev payments ------------------------------------------------------------------------

DEV_COLUMNS = "id, ticket_id, amount_minor, currency, status, refunded_minor"


async def dev_insert(
    conn: asyncpg.Connection,
    payment_id: str,
    ticket_id: uuid.UUID,
    amount: int,
    currency: str,
    idempotency_key: str,
) -> asyncpg.Record:
    """A dev payment intent, or the one created before under the same idempotency key."""
    row = await conn.fetchrow(
        f"""INSERT INTO dev_payments (id, ticket_id, amount_minor, currency, status,
                                      idempotency_key)
            VALUES ($1, $2, $3, $4, 'requires_confirmation', $5)
            ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = excluded.idempotency_key
            RETURNING {DEV_COLUMNS}""",
        payment_id,
        ticket_id,
        amount,
        currency,
        idempotency_key,
    )
    assert row is not None
    return row


async def dev_get(conn: asyncpg.Connection, payment_id: str) -> asyncpg.Record | None:
    """One dev payment."""
    return await conn.fetchrow(f"SELECT {DEV_COLUMNS} FROM dev_payments WHERE id = $1", payment_id)


async def dev_set_status(
    conn: asyncpg.Connection, payment_id: str, from_statuses: tuple[str, ...], to_status: str
) -> asyncpg.Record | None:
    """Move a dev payment between statuses."""
    return await conn.fetchrow(
        f"""UPDATE dev_payments SET status = $3 WHERE id = $1 AND status = ANY($2::text[])
            RETURNING {DEV_COLUMNS}""",
        payment_id,
        list(from_statuses),
        to_status,
    )


async def dev_refund(conn: asyncpg.Connection, payment_id: str) -> asyncpg.Record | None:
    """Refund a succeeded dev payment in full (idempotent)."""
    return await conn.fetchrow(
        f"""UPDATE dev_payments SET refunded_minor = amount_minor
            WHERE id = $1 AND status = 'succeeded' RETURNING {DEV_COLUMNS}""",
        payment_id,
    )


# --- replays -----------------------------------------------------------------------------


async def replay_ticket(
    conn: asyncpg.Connection, user_id: uuid.UUID, event_id: uuid.UUID
) -> asyncpg.Record | None:
    """The user's paid ticket for an event."""
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM tickets WHERE user_id = $1 AND event_id = $2 AND status = 'paid'",
        user_id,
        event_id,
    )


async def lock_holds_of(conn: asyncpg.Connection, user_id: uuid.UUID, address: str | None) -> None:
    """Serialise, until commit, new holds of one account and of one address (in that order)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('hold:user:' || $1, 0))", str(user_id)
    )
    if address is not None:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('hold:addr:' || $1, 0))", address
        )


async def unpaid_holds(
    conn: asyncpg.Connection, user_id: uuid.UUID, address: str | None, now: datetime
) -> tuple[int, int]:
    """Unexpired unpaid holds of an account, and of an address (0 when no address)."""
    row = await conn.fetchrow(
        """SELECT
             (SELECT count(*) FROM tickets
              WHERE user_id = $1 AND status = 'reserved' AND reserved_until > $3) AS by_user,
             (SELECT count(*) FROM tickets
              WHERE $2::text IS NOT NULL AND hold_address = $2 AND status = 'reserved'
                AND reserved_until > $3) AS by_address""",
        user_id,
        address,
        now,
    )
    assert row is not None
    return int(row["by_user"]), int(row["by_address"])


async def set_hold_address(conn: asyncpg.Connection, ticket_id: uuid.UUID, address: str) -> None:
    """Remember the address digest a hold was made from."""
    await conn.execute("UPDATE tickets SET hold_address = $2 WHERE id = $1", ticket_id, address)


async def location_of(conn: asyncpg.Connection, ticket_id: uuid.UUID) -> asyncpg.Record | None:
    """Where a ticket's session was last seen (latitude, longitude, seen_at)."""
    return await conn.fetchrow(
        "SELECT latitude, longitude, seen_at FROM ticket_locations WHERE ticket_id = $1", ticket_id
    )


async def set_location(
    conn: asyncpg.Connection,
    ticket_id: uuid.UUID,
    latitude: float,
    longitude: float,
    seen_at: datetime,
) -> None:
    """Record where a ticket's session is now."""
    await conn.execute(
        """INSERT INTO ticket_locations (ticket_id, latitude, longitude, seen_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (ticket_id) DO UPDATE
           SET latitude = $2, longitude = $3, seen_at = $4""",
        ticket_id,
        latitude,
        longitude,
        seen_at,
    )


async def ticket_of_session(conn: asyncpg.Connection, session_id: uuid.UUID) -> uuid.UUID | None:
    """The ticket whose live viewing session is `session_id`."""
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM tickets WHERE session_id = $1", session_id
    )
    return found
