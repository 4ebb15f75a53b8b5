"""Ledger test helpers: post through the public API, read balances, wait for jobs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

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


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:
    """Wait for a job's effect: poll `check` until it holds, failing after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "the job's effect never showed"
        await asyncio.sleep(0.1)
