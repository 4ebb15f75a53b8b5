"""Ledger fixtures: helpers that post through the public API and read balances."""

from __future__ import annotations

import uuid

from aiohttp import web

import ledger
from ledger.balances import Balance, artist_balances
from server.keys import DB


async def fund(app: web.Application, artist: uuid.UUID, amount: int, currency: str = "EUR") -> None:
    """Make `amount` available to `artist` (a tip-like posting)."""
    await ledger.post(app, ledger.tip(uuid.uuid4(), artist, currency, amount))


async def balance(app: web.Application, artist: uuid.UUID, currency: str = "EUR") -> Balance:
    """The artist's balance in `currency` (zeros when it has none)."""
    async with app[DB].acquire() as conn:
        found = [b for b in await artist_balances(conn, artist) if b.currency == currency]
    return found[0] if found else Balance(currency, 0, 0, 0, 0)
