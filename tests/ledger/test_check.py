"""`mhc ledger check` recomputes every balance from the transfers: a tampered balance (written
as a superuser with the guarding triggers disabled) makes it exit non-zero."""

from __future__ import annotations

import uuid

from aiohttp import web

import ledger
from ledger.accounts import artist
from server.keys import DB
from tests.forensics.test_cli import mhc
from tests.services import Services


async def _tamper(app: web.Application, account: uuid.UUID, delta: int) -> None:
    async with app[DB].acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")  # triggers off
        await conn.execute(
            "UPDATE ledger_balances SET credits_posted = credits_posted + $2 WHERE account_id = $1",
            account,
            delta,
        )


async def test_check_passes_then_finds_a_tampered_balance(
    app_server: tuple[web.Application, str], services: Services
) -> None:
    app = app_server[0]
    a = uuid.uuid4()
    await ledger.post(app, ledger.tip(uuid.uuid4(), a, "EUR", 1234))
    ok = await mhc("ledger", "check", DATABASE_URL=services.database_url)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK" in ok.stdout
    account = artist("artist_available", a).id("EUR")
    await _tamper(app, account, 1)
    try:
        bad = await mhc("ledger", "check", DATABASE_URL=services.database_url)
        assert bad.returncode == 1, bad.stdout + bad.stderr
        assert f"MISMATCH balance {account}/0" in bad.stdout
        assert "MISMATCH currency EUR" in bad.stdout
    finally:
        await _tamper(app, account, -1)
    again = await mhc("ledger", "check", DATABASE_URL=services.database_url)
    assert again.returncode == 0, again.stdout
