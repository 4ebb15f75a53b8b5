"""The on-chain mirror's sync: every credit to an artist's available USD balance is sent to
the RoyaltyMirror contract as `creditRoyalty`, under the ledger transfer id as reference.

A posting that credits available money writes a `ledger_chain_credits` row and queues the
job in its own transaction; the job pins the artist's registered wallet, sends, waits for
the confirmations and records the transaction. A job run again after a crash between sending
and recording finds the reference already credited on chain (the contract refuses a seen
reference), so nothing is credited twice. Credits made before the artist registered a wallet
wait, and are queued when the wallet is set.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from ledger import chain
from ledger.errors import LedgerError
from ledger.postings import POSTING_HOOKS, Leg, Posting
from server import audit, jobs
from server.config import ConfigError
from server.keys import CLOCK, CONFIG, DB

CREDIT_JOB = "ledger.chain_credit"
METHOD = "chain"  # the ledger_payout_accounts row holding the wallet
# The mirror pays in USDC: the ledger's USD cents times 10**4 are its 6-decimal units.
CURRENCY = "USD"
TOKEN_PER_MINOR = 10**4


@dataclass
class Mirror:
    """The configured contract's client, or None when the mirror is off."""

    client: chain.RoyaltyMirror | None


MIRROR: web.AppKey[Mirror] = web.AppKey("ledger_mirror", Mirror)


def setup(app: web.Application) -> None:
    """Connect the configured mirror (if any), hook it to postings and register its job."""
    cfg = chain.load(app[CONFIG])
    app[MIRROR] = Mirror(None if cfg is None else chain.RoyaltyMirror.from_config(cfg))
    app.setdefault(POSTING_HOOKS, []).append(on_posted)
    jobs.register(app, CREDIT_JOB, credit_job)
    app.on_cleanup.append(_close)


async def _close(app: web.Application) -> None:
    client = app[MIRROR].client
    if client is not None:
        await client.close()


async def on_posted(app: web.Application, conn: asyncpg.Connection, posting: Posting) -> None:
    """In the posting's transaction: queue each credit to an artist's available money."""
    if app[MIRROR].client is None or posting.currency != CURRENCY:
        return
    for leg in posting.legs:
        if not isinstance(leg, Leg) or leg.pending or leg.credit.code != "artist_available":
            continue
        added = await conn.fetchval(
            """INSERT INTO ledger_chain_credits (transfer_id, artist_id, amount, created_at)
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true""",
            leg.id,
            leg.credit.owner,
            leg.amount * TOKEN_PER_MINOR,
            app[CLOCK].now(),
        )
        if added:
            await _enqueue(app, conn, leg.id)


async def _enqueue(
    app: web.Application, conn: asyncpg.Connection, transfer_id: uuid.UUID, dedupe: bool = True
) -> None:
    await jobs.enqueue(
        app,
        conn,
        CREDIT_JOB,
        {"transfer_id": str(transfer_id)},
        dedupe_key=f"{CREDIT_JOB}:{transfer_id}" if dedupe else None,
    )


async def credit_job(app: web.Application, payload: dict[str, Any]) -> None:
    """Send one credit and record its transaction; an error makes the queue retry it later."""
    client = app[MIRROR].client
    if client is None:
        raise chain.ChainError("the chain mirror is not configured in this process")
    transfer_id = uuid.UUID(payload["transfer_id"])
    async with app[DB].acquire() as conn:
        # The first attempt pins the wallet, so a resend credits the same address even if the
        # artist changed it meanwhile (the contract would refuse another one for this ref).
        row = await conn.fetchrow(
            """UPDATE ledger_chain_credits c
               SET wallet = coalesce(c.wallet, a.details->>'address')
               FROM ledger_payout_accounts a
               WHERE c.transfer_id = $1 AND c.status = 'pending'
                 AND a.artist_id = c.artist_id AND a.method = $2
               RETURNING c.artist_id, c.amount, c.wallet""",
            transfer_id,
            METHOD,
        )
    if row is None:
        return  # credited already, or no wallet yet (queued again when one is registered)
    result = await client.credit_royalty(row["wallet"], int(row["amount"]), transfer_id)
    async with app[DB].acquire() as conn, conn.transaction():
        done = await conn.fetchval(
            """UPDATE ledger_chain_credits
               SET status = 'credited', tx_hash = $2, credited_at = $3
               WHERE transfer_id = $1 AND status = 'pending' RETURNING true""",
            transfer_id,
            result.tx_hash,
            app[CLOCK].now(),
        )
        if done:
            await audit.record(
                app,
                conn,
                "CHAIN_CREDITED",
                subject=transfer_id,
                wallet=row["wallet"],
                amount=int(row["amount"]),
                tx_hash=result.tx_hash,
                already_credited=result.already_credited,
            )


def wallet_address(text: str) -> str:
    """`text` as a checksummed address; LedgerError when it is none (or a mistyped one)."""
    try:
        return str(chain.checksum_address(text, "address"))
    except ConfigError as exc:
        raise LedgerError("invalid_address", str(exc)) from None


async def register_wallet(app: web.Application, artist_id: uuid.UUID, text: str) -> str:
    """Set the wallet the artist's credits go to; credits waiting for one are queued."""
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
        waiting = await conn.fetch(
            """SELECT transfer_id FROM ledger_chain_credits
               WHERE artist_id = $1 AND status = 'pending'""",
            artist_id,
        )
        for r in waiting:
            # Not absorbed by a run in progress that may have found no wallet; a second run
            # is harmless (the contract refuses a seen reference, the client reports it).
            await _enqueue(app, conn, r["transfer_id"], dedupe=False)
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
    """The artist's on-chain figures beside the ledger's for the same wallet."""
    client = app[MIRROR].client
    if client is None:
        raise LedgerError("chain_disabled", "the on-chain mirror is not configured")
    async with app[DB].acquire() as conn:
        wallet = await wallet_of(conn, artist_id)
        sums = await conn.fetchrow(
            """SELECT coalesce(sum(amount) FILTER (WHERE status = 'credited' AND wallet = $2), 0)
                          AS credited,
                      coalesce(sum(amount) FILTER (WHERE status = 'pending'), 0) AS pending
               FROM ledger_chain_credits WHERE artist_id = $1""",
            artist_id,
            wallet,
        )
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
        "ledger_credited": int(sums["credited"]),
        "ledger_pending": int(sums["pending"]),
        "in_agreement": total == int(sums["credited"]),
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
