"""Postings enqueued in a caller's transaction, and the postings of tips and royalties."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from aiohttp import web

from ledger import accounts as acc
from ledger.accounts import Account
from ledger.errors import LedgerError
from ledger.postings import Leg, Posting, Resolve, leg_id, post, validate
from server import jobs

POST_JOB = "ledger.post"


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
) -> Posting:
    """A fan's tip: received into tips clearing, then owed to the artist at once."""
    return Posting(
        currency,
        "tip",
        "tip",
        (
            Leg(leg_id(tip_id, "tip"), acc.CLEARING, acc.TIPS_CLEARING, amount),
            Leg(
                leg_id(tip_id, "tip", "artist"),
                acc.TIPS_CLEARING,
                acc.artist("artist_available", artist_id),
                amount,
            ),
        ),
        ref=str(tip_id),
        actor=fan_id,
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
