"""Postings enqueued in a caller's transaction, the postings of tips and royalties, and the
reversal of a tip."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from ledger import accounts as acc
from ledger.accounts import Account
from ledger.errors import LedgerError
from ledger.postings import Leg, Posted, Posting, Resolve, leg_id, post, validate
from server import jobs
from server.keys import DB

POST_JOB = "ledger.post"
TIP_REVERSAL_JOB = "ledger.tip_reversed"


def _account(data: dict[str, Any]) -> Account:
    return Account(data["code"], None if data["owner"] is None else uuid.UUID(data["owner"]))


def _account_json(a: Account) -> dict[str, Any]:
    return {"code": a.code, "owner": None if a.owner is None else str(a.owner)}


def to_json(posting: Posting) -> dict[str, Any]:
    """A posting as a job payload."""
    legs: list[dict[str, Any]] = []
    for leg in posting.legs:
        if isinstance(leg, Resolve):
            legs.append({"id": str(leg.id), "pending_id": str(leg.pending_id), "post": leg.post})
        else:
            legs.append(
                {
                    "id": str(leg.id),
                    "debit": _account_json(leg.debit),
                    "credit": _account_json(leg.credit),
                    "amount": leg.amount,
                    "pending": leg.pending,
                }
            )
    return {
        "currency": posting.currency,
        "code": posting.code,
        "source": posting.source,
        "ref": posting.ref,
        "actor": None if posting.actor is None else str(posting.actor),
        "legs": legs,
    }


def from_json(data: dict[str, Any]) -> Posting:
    """The posting a job payload holds."""
    legs: list[Leg | Resolve] = []
    for leg in data["legs"]:
        if "pending_id" in leg:
            legs.append(Resolve(uuid.UUID(leg["id"]), uuid.UUID(leg["pending_id"]), leg["post"]))
        else:
            legs.append(
                Leg(
                    uuid.UUID(leg["id"]),
                    _account(leg["debit"]),
                    _account(leg["credit"]),
                    int(leg["amount"]),
                    bool(leg["pending"]),
                )
            )
    return Posting(
        data["currency"],
        data["code"],
        data["source"],
        tuple(legs),
        data["ref"],
        None if data["actor"] is None else uuid.UUID(data["actor"]),
    )


async def post_later(app: web.Application, conn: asyncpg.Connection, posting: Posting) -> None:
    """Post `posting` once the caller's transaction on `conn` commits (retried until done)."""
    validate(posting)
    await jobs.enqueue(
        app, conn, POST_JOB, to_json(posting), dedupe_key=f"{POST_JOB}:{posting.legs[0].id}"
    )


async def post_job(app: web.Application, payload: dict[str, Any]) -> None:
    """The job: post it. Safe to run again: the leg ids make a replay a no-op."""
    await post(app, from_json(payload))


def tip(
    tip_id: uuid.UUID,
    artist_id: uuid.UUID,
    currency: str,
    amount: int,
    fan_id: uuid.UUID | None = None,
    *,
    platform: int = 0,
    processing: int = 0,
    source: str = "tip",
) -> Posting:
    """A fan's tip (or a subscription's paid invoice, by `source`): received into tips
    clearing, then owed to the artist at once, net of the platform's and processing fees."""
    fees = platform + processing
    artist = amount - fees if fees else amount
    if fees and (platform < 0 or processing < 0 or artist < 0):
        raise LedgerError("invalid_posting", "the fees of a tip cannot exceed it")
    t = tip_id
    parts = (
        (leg_id(t, "tip", "artist"), acc.artist("artist_available", artist_id), artist),
        (leg_id(t, "tip", "platform"), acc.PLATFORM_REVENUE, platform),
        (leg_id(t, "tip", "processing"), acc.PROCESSING, processing),
    )
    return Posting(
        currency,
        "tip",
        source,
        (
            Leg(leg_id(t, "tip"), acc.CLEARING, acc.TIPS_CLEARING, amount),
            *(
                Leg(lid, acc.TIPS_CLEARING, account, part)
                for lid, account, part in parts
                if part or account.code == "artist_available"
            ),
        ),
        ref=str(tip_id),
        actor=fan_id,
    )


@dataclass(frozen=True)
class TipReversal:
    """A tip (or paid invoice) whose money went back to the fan: `refund` or `chargeback`."""

    tip_id: uuid.UUID
    artist_id: uuid.UUID
    currency: str
    reason: str = "refund"


async def tip_reversed(app: web.Application, conn: asyncpg.Connection, rev: TipReversal) -> None:
    """Have a tip's postings reversed once the caller's transaction commits."""
    await jobs.enqueue(
        app,
        conn,
        TIP_REVERSAL_JOB,
        {
            "tip_id": str(rev.tip_id),
            "artist_id": str(rev.artist_id),
            "currency": rev.currency,
            "reason": rev.reason,
        },
        dedupe_key=f"{TIP_REVERSAL_JOB}:{rev.tip_id}",
    )


async def reverse_tip(app: web.Application, rev: TipReversal) -> Posted | None:
    """Post the reversal of a tip (idempotent by leg ids): the fees come back from platform
    revenue and processing, the artist's share from `available`, and what was already paid
    out becomes a receivable against the artist."""
    t, cur = rev.tip_id, rev.currency
    roles = {leg_id(t, "tip", r): r for r in ("artist", "platform", "processing")}
    done = [leg_id(t, "tip_reverse", r) for r in ("clearing",)]
    available_account = acc.artist("artist_available", rev.artist_id)
    async with app[DB].acquire() as conn:
        if await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM ledger_transfers WHERE id = ANY($1))", done
        ):
            return None
        rows = await conn.fetch(
            "SELECT id, amount, source FROM ledger_transfers WHERE id = ANY($1)", list(roles)
        )
        available = int(
            await conn.fetchval(
                """SELECT coalesce(sum(credits_posted - debits_posted - debits_pending), 0)
                   FROM ledger_balances WHERE account_id = $1""",
                available_account.id(cur),
            )
        )
    if not rows:
        raise LedgerError("not_found", f"tip {t} is not in the ledger yet")
    legs = {roles[r["id"]]: int(r["amount"]) for r in rows}
    source = rows[0]["source"]
    out: list[Leg | Resolve] = []
    for role, account in (("platform", acc.PLATFORM_REVENUE), ("processing", acc.PROCESSING)):
        if legs.get(role):
            out.append(Leg(leg_id(t, "tip_reverse", role), account, acc.TIPS_CLEARING, legs[role]))
    owed = legs.get("artist", 0)
    taken = min(owed, max(available, 0))
    if taken:
        out.append(
            Leg(leg_id(t, "tip_reverse", "available"), available_account, acc.TIPS_CLEARING, taken)
        )
    if owed - taken:
        out.append(
            Leg(
                leg_id(t, "tip_reverse", "receivable"),
                acc.artist("artist_receivable", rev.artist_id),
                acc.TIPS_CLEARING,
                owed - taken,
            )
        )
    total = sum(legs.values())
    out.append(Leg(done[0], acc.TIPS_CLEARING, acc.CLEARING, total))
    return await post(app, Posting(cur, f"tip_{rev.reason}", source, tuple(out), ref=str(t)))


async def tip_reversal_job(app: web.Application, payload: dict[str, Any]) -> None:
    """The job: reverse the tip; raises (the queue retries) while the tip is not posted yet."""
    await reverse_tip(
        app,
        TipReversal(
            uuid.UUID(payload["tip_id"]),
            uuid.UUID(payload["artist_id"]),
            payload["currency"],
            payload["reason"],
        ),
    )


def royalty(
    line_id: uuid.UUID,
    artist_id: uuid.UUID,
    dsp: str,
    currency: str,
    gross: int,
    platform_fee: int = 0,
) -> Posting:
    """A DSP's royalties for an artist: `gross` received, `platform_fee` of it kept by the
    platform, the rest owed to the artist."""
    if not 0 <= platform_fee <= gross:
        raise LedgerError("invalid_posting", "the platform fee must be between 0 and the gross")
    legs = [
        Leg(leg_id(line_id, "royalty"), acc.CLEARING, acc.DSP_CLEARING, gross),
        Leg(
            leg_id(line_id, "royalty", "artist"),
            acc.DSP_CLEARING,
            acc.artist("artist_available", artist_id),
            gross - platform_fee,
        ),
    ]
    if platform_fee:
        legs.append(
            Leg(
                leg_id(line_id, "royalty", "platform"),
                acc.DSP_CLEARING,
                acc.PLATFORM_REVENUE,
                platform_fee,
            )
        )
    if platform_fee == gross:
        legs.pop(1)  # nothing left for the artist: a zero leg is not a transfer
    return Posting(currency, "royalty", f"dsp:{dsp}", tuple(legs), ref=str(line_id))
