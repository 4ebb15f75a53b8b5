"""The on-chain mirror as the `chain` payout method: a withdrawal pays the artist's wallet
through the RoyaltyMirror contract's `creditRoyalty`, under the payout's id as reference.

The withdrawal reserves the money (available to payouts in transit, pending) and, in the same
transaction, writes a `ledger_chain_credits` row and queues the job. The job sends the credit,
waits for the confirmations, then posts the payout and records the transaction together. A job
run again after a crash between sending and recording finds the reference already credited on
chain (the contract refuses a seen reference), so nothing is paid twice. Only a definitive
refusal (the reference credited with other fields) voids the payout; anything else is retried
by the job queue.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from ledger import chain, payouts
from ledger.errors import LedgerError
from ledger.payouts import Payout, PayoutMethod
from server import audit, jobs
from server.config import ConfigError
from server.keys import CLOCK, CONFIG, DB

log = logging.getLogger(__name__)

CREDIT_JOB = "ledger.chain_credit"
METHOD = "chain"
# The mirror pays in USDC: the ledger's USD cents times 10**4 are its 6-decimal units.
CURRENCY = "USD"
TOKEN_PER_MINOR = 10**4


@dataclass
class Mirror:
    """The configured contract's client, or None when the mirror is off."""

    client: chain.RoyaltyMirror | None


MIRROR: web.AppKey[Mirror] = web.AppKey("ledger_mirror", Mirror)


def setup(app: web.Application) -> None:
    """Connect the configured mirror (if any), offer it as a payout method, register its job."""
    cfg = chain.load(app[CONFIG])
    app[MIRROR] = Mirror(None if cfg is None else chain.RoyaltyMirror.from_config(cfg))
    # Offered even when off, so that a request for it says why it cannot be served.
    payouts.add_method(app, ChainPayouts(app[MIRROR]))
    jobs.register(app, CREDIT_JOB, credit_job)
    app.on_cleanup.append(_close)


async def _close(app: web.Application) -> None:
    client = app[MIRROR].client
    if client is not None:
        await client.close()


class ChainPayouts(PayoutMethod):
    """Pays USD withdrawals to the artist's registered wallet in the mirror's token."""

    name = METHOD

    def __init__(self, mirror: Mirror) -> None:
        self.mirror = mirror

    async def destination(
        self, conn: asyncpg.Connection, artist_id: uuid.UUID, currency: str
    ) -> dict[str, Any]:
        if self.mirror.client is None:
            raise LedgerError("chain_disabled", "the on-chain mirror is not configured")
        if currency != CURRENCY:
            raise LedgerError("unsupported_currency", f"the chain token represents {CURRENCY}")
        address = await wallet_of(conn, artist_id)
        if address is None:
            raise LedgerError("no_payout_account", "register a wallet before withdrawing on chain")
        return {"address": address}

    async def reserved(self, app: web.Application, conn: asyncpg.Connection, p: Payout) -> None:
        await conn.execute(
            """INSERT INTO ledger_chain_credits (transfer_id, artist_id, amount, wallet, created_at)
               SELECT id, artist_id, amount * $2, destination->>'address', created_at
               FROM ledger_payouts WHERE id = $1""",
            p.id,
            TOKEN_PER_MINOR,
        )
        await jobs.enqueue(
            app, conn, CREDIT_JOB, {"payout_id": str(p.id)}, dedupe_key=f"{CREDIT_JOB}:{p.id}"
        )


async def credit_job(app: web.Application, payload: dict[str, Any]) -> None:
    """Send one payout's credit, then post the payout; an error makes the queue retry it."""
    client = app[MIRROR].client
    if client is None:
        raise chain.ChainError("the chain mirror is not configured in this process")
    payout_id = uuid.UUID(payload["payout_id"])
    async with app[DB].acquire() as conn:
        row = await conn.fetchrow(
            """SELECT wallet, amount FROM ledger_chain_credits
               WHERE transfer_id = $1 AND status = 'pending'""",
            payout_id,
        )
    if row is None:
        return  # settled already
    try:
        result = await client.credit_royalty(row["wallet"], int(row["amount"]), payout_id)
    except chain.CreditConflict as exc:
        log.warning("chain payout %s refused, voided: %s", payout_id, exc)
        async with app[DB].acquire() as conn, conn.transaction():
            if await _finish(app, conn, payout_id, "refused", None):
                await payouts.settle(app, conn, payout_id, paid=False)
        return
    async with app[DB].acquire() as conn, conn.transaction():
        if await _finish(app, conn, payout_id, "credited", result.tx_hash):
            await payouts.settle(app, conn, payout_id, paid=True)
            await audit.record(
                app,
                conn,
                "CHAIN_CREDITED",
                subject=payout_id,
                wallet=row["wallet"],
                amount=int(row["amount"]),
                tx_hash=result.tx_hash,
                already_credited=result.already_credited,
            )


async def _finish(
    app: web.Application,
    conn: asyncpg.Connection,
    payout_id: uuid.UUID,
    status: str,
    tx_hash: str | None,
) -> bool:
    # Concurrent runs of one job: only the first to record the outcome settles the payout.
    done = await conn.fetchval(
        """UPDATE ledger_chain_credits SET status = $2, tx_hash = $3, credited_at = $4
           WHERE transfer_id = $1 AND status = 'pending' RETURNING true""",
        payout_id,
        status,
        tx_hash,
        app[CLOCK].now(),
    )
    return bool(done)


def wallet_address(text: str) -> str:
    """`text` as a checksummed address; LedgerError when it is none (or a mistyped one)."""
    try:
        address = str(chain.checksum_address(text, "address"))
    except ConfigError as exc:
        raise LedgerError("invalid_address", str(exc)) from None
    if int(address, 16) == 0:
        raise LedgerError("invalid_address", "the zero address burns what it is sent")
    return address


async def register_wallet(app: web.Application, artist_id: uuid.UUID, text: str) -> str:
    """Set the wallet later chain withdrawals pay to (those in flight keep theirs)."""
    address = wallet_address(text)
    async with app[DB].acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO ledger_payout_accounts (artist_id, method, details, updated_at)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (artist_id, method)
               DO UPDATE SET details = EXCLUDED.details, updated_at = EXCLUDED.updated_at""",
            artist_id,
            METHOD,
            {"address": address},
            app[CLOCK].now(),
        )
        await audit.record(
            app, conn, "PAYOUT_ACCOUNT_SET", actor=artist_id, subject=artist_id, method=METHOD
        )
    return address


async def wallet_of(conn: asyncpg.Connection, artist_id: uuid.UUID) -> str | None:
    """The artist's registered wallet address."""
    found: str | None = await conn.fetchval(
        """SELECT details->>'address' FROM ledger_payout_accounts
           WHERE artist_id = $1 AND method = $2""",
        artist_id,
        METHOD,
    )
    return found


async def report(app: web.Application, artist_id: uuid.UUID) -> dict[str, Any]:
    """The artist's on-chain figures beside the ledger's chain payouts to the same wallet."""
    client = app[MIRROR].client
    if client is None:
        raise LedgerError("chain_disabled", "the on-chain mirror is not configured")
    async with app[DB].acquire() as conn:
        wallet = await wallet_of(conn, artist_id)
        sums = await conn.fetchrow(
            """SELECT coalesce(sum(amount) FILTER (
                          WHERE status = 'paid' AND destination->>'address' = $3), 0) AS paid,
                      coalesce(sum(amount) FILTER (
                          WHERE status IN ('pending', 'exported')), 0) AS in_flight
               FROM ledger_payouts WHERE artist_id = $1 AND method = $2""",
            artist_id,
            METHOD,
            wallet,
        )
    paid = int(sums["paid"]) * TOKEN_PER_MINOR
    balance = total = 0
    recent: list[chain.RoyaltyCredit] = []
    if wallet is not None:
        balance = await client.balance_of(wallet)
        total = await client.total_credited(wallet)
        recent = (await client.recent_credits(wallet))[:20]
    return {
        "chain_id": await client.chain_id(),
        "contract": client.address,
        "wallet": wallet,
        "on_chain_balance": balance,
        "on_chain_total_credited": total,
        "ledger_credited": paid,
        "ledger_pending": int(sums["in_flight"]) * TOKEN_PER_MINOR,
        "in_agreement": total == paid,
        "recent": [
            {
                "ref": "0x" + c.ref.hex(),
                "amount": c.amount,
                "tx_hash": c.tx_hash,
                "block_number": c.block_number,
            }
            for c in recent
        ],
    }
