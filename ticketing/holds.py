"""Limits on unpaid seat holds, per account and per address (checked inside the purchase's
transaction, under locks, so concurrent purchases cannot overshoot them)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from aiohttp import web

from ticketing import store
from ticketing.errors import OrderError
from ticketing.keys import TICKETING_CONFIG
from ticketing.metrics import PURCHASES


async def check(
    app: web.Application,
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    address: str | None,
    now: datetime,
) -> None:
    """Refuse a new hold when the account or the address already has its share of unpaid ones.

    `address` is the keyed digest of the buyer's address (None when unknown).
    """
    cfg = app[TICKETING_CONFIG]
    await store.lock_holds_of(conn, user_id, address)
    by_user, by_address = await store.unpaid_holds(conn, user_id, address, now)
    if by_user >= cfg.holds_per_account or by_address >= cfg.holds_per_address:
        PURCHASES.labels("too_many_holds").inc()
        raise OrderError(
            "too_many_holds", "too many unpaid seat holds; pay for or let go of a held ticket first"
        )


async def record(conn: asyncpg.Connection, ticket_id: uuid.UUID, address: str | None) -> None:
    """Remember where a new hold came from, so the address limit can count it."""
    if address is not None:
        await store.set_hold_address(conn, ticket_id, address)
