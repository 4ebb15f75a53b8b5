"""Tips: a fan pays an artist, confirmed like a ticket payment, posted to the ledger once.

A tip is a payment at the provider (a Stripe PaymentIntent, or the development provider's,
confirmed at once). Its success is learned the way ticket payments are: from the payment as
the provider reports it (webhook or the dev confirmation), and acted on once by a guarded
status change whose transaction also enqueues the ledger posting, the forensic record and,
for a tip made during a live event, its highlighted chat message. This module owns `tips`.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web

import ledger
from media import videos
from server import audit, jobs
from server.accounts.service import find_account
from server.accounts.tokens import Principal
from server.chat.messages import highlight
from server.errors import ApiError, conflict, not_found
from server.keys import CLOCK, DB
from server.live.service import find_event
from server.wire import timestamp, timestamp_or_none
from ticketing import payments
from ticketing.errors import PROVIDER_ERROR, OrderError
from ticketing.keys import RUNTIME, TICKETING_CONFIG
from ticketing.metrics import PAYMENTS
from ticketing.payments import Payment, PaymentError
from ticketing.split import PROCESSING_BPS

log = logging.getLogger(__name__)

CHAT_JOB = "ticketing.tip_chat"
_COLUMNS = """id, fan_id, artist_id, video_id, event_id, amount_minor, currency, artist_minor,
    platform_minor, processing_minor, message, status, provider, payment_ref, created_at,
    paid_at, refunded_at"""


@dataclass(frozen=True)
class TipSplit:
    """A tip's parts in minor units; they sum to the tip."""

    amount: int
    artist: int
    platform: int
    processing: int


def split_tip(amount: int, platform_bps: int) -> TipSplit:
    """The platform takes its configured share, processing the ticket split's; both rounded
    down, so the artist gets the rest (any remainder)."""
    platform = amount * platform_bps // 10_000
    processing = amount * PROCESSING_BPS // 10_000
    return TipSplit(amount, amount - platform - processing, platform, processing)


def idempotency_key(tip_id: uuid.UUID) -> str:
    """One payment per tip, however often its creation is retried."""
    return f"mhc-tip-{tip_id}"


def refund_key(tip_id: uuid.UUID) -> str:
    """One refund per tip, whichever path asks for it."""
    return f"mhc-tip-refund-{tip_id}"


def tip_json(row: Any) -> dict[str, Any]:
    """A tip as the API shows it."""
    return {
        "id": str(row["id"]),
        "artist_id": str(row["artist_id"]),
        "video_id": None if row["video_id"] is None else str(row["video_id"]),
        "event_id": None if row["event_id"] is None else str(row["event_id"]),
        "amount": row["amount_minor"],
        "currency": row["currency"].strip(),
        "message": row["message"],
        "status": row["status"],
        "provider": row["provider"],
        "created_at": timestamp(row["created_at"]),
        "paid_at": timestamp_or_none(row["paid_at"]),
    }


# --- the tips table -------------------------------------------------------------------------


async def _insert(conn: asyncpg.Connection, **v: Any) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO tips (id, fan_id, artist_id, video_id, event_id, amount_minor, currency,
                artist_minor, platform_minor, processing_minor, message, status, provider,
                created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12, $13)
            RETURNING {_COLUMNS}""",
        v["id"],
        v["fan_id"],
        v["artist_id"],
        v["video_id"],
        v["event_id"],
        v["split"].amount,
        v["currency"],
        v["split"].artist,
        v["split"].platform,
        v["split"].processing,
        v["message"],
        v["provider"],
        v["now"],
    )


async def get(conn: asyncpg.Connection, tip_id: uuid.UUID) -> asyncpg.Record | None:
    """One tip."""
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM tips WHERE id = $1", tip_id)


async def by_payment_ref(conn: asyncpg.Connection, payment_id: str) -> asyncpg.Record | None:
    """The tip a provider payment belongs to."""
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM tips WHERE payment_ref = $1", payment_id)


async def _set_payment_ref(conn: asyncpg.Connection, tip_id: uuid.UUID, ref: str) -> None:
    await conn.execute(
        "UPDATE tips SET payment_ref = $2 WHERE id = $1 AND payment_ref IS NULL", tip_id, ref
    )


async def _transition(
    conn: asyncpg.Connection,
    tip_id: uuid.UUID,
    from_statuses: tuple[str, ...],
    to_status: str,
    now: datetime,
) -> asyncpg.Record | None:
    """Move a tip between statuses; None when it was not in one of `from_statuses` (so each
    change happens once, whoever races to make it)."""
    return await conn.fetchrow(
        f"""UPDATE tips SET status = $3,
                paid_at = CASE WHEN $3 = 'succeeded' THEN $4 ELSE paid_at END,
                refunded_at = CASE WHEN $3 = 'refunded' THEN $4 ELSE refunded_at END
            WHERE id = $1 AND status = ANY($2::text[]) RETURNING {_COLUMNS}""",
        tip_id,
        list(from_statuses),
        to_status,
        now,
    )


def cursor(row: Any) -> str:
    """The keyset cursor after `row`: its creation (microseconds since the epoch) and id."""
    micros = int(row["created_at"].timestamp()) * 1_000_000 + row["created_at"].microsecond
    return f"{micros}.{row['id']}"


def parse_cursor(raw: str) -> tuple[datetime, uuid.UUID]:
    """A cursor's position, or ValueError."""
    micros, _, tip_id = raw.partition(".")
    if not (micros.isascii() and micros.isdigit() and len(micros) <= 17):
        raise ValueError("bad cursor")
    moment = datetime.fromtimestamp(int(micros) // 1_000_000, UTC).replace(
        microsecond=int(micros) % 1_000_000
    )
    return moment, uuid.UUID(tip_id)


async def history(
    conn: asyncpg.Connection,
    fan_id: uuid.UUID,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> list[asyncpg.Record]:
    """A fan's tips, newest first, after the keyset position `before`."""
    at, tip_id = before if before is not None else (None, None)
    return list(
        await conn.fetch(
            f"""SELECT {_COLUMNS} FROM tips
                WHERE fan_id = $1
                  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
                ORDER BY created_at DESC, id DESC LIMIT $2""",
            fan_id,
            limit,
            at,
            tip_id,
        )
    )


async def sums_by_bucket(
    conn: asyncpg.Connection, artist_id: uuid.UUID, start: datetime, end: datetime, bucket: str
) -> list[asyncpg.Record]:
    """Paid (and not refunded) tips of an artist per bucket and currency: start, count, amount."""
    return list(
        await conn.fetch(
            """SELECT date_trunc($4, paid_at, 'UTC') AS start, currency,
                      count(*) AS count, sum(amount_minor) AS amount
               FROM tips
               WHERE artist_id = $1 AND paid_at >= $2 AND paid_at < $3 AND status = 'succeeded'
               GROUP BY 1, 2 ORDER BY 1, 2""",
            artist_id,
            start,
            end,
            bucket,
        )
    )


# --- making a tip ---------------------------------------------------------------------------


async def _rate_limit(app: web.Application, principal: Principal) -> None:
    cfg = app[TICKETING_CONFIG]
    allowed, wait_ms = await app[RUNTIME].tip_limit.take(str(principal.user_id), app[CLOCK].time())
    if not allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"at most {cfg.tip_per_minute} tips a minute; try again shortly",
            retry_after=max(1, math.ceil(wait_ms / 1000)),
        )


async def _check_target(
    conn: asyncpg.Connection,
    principal: Principal,
    artist_id: uuid.UUID,
    video_id: uuid.UUID | None,
    event_id: uuid.UUID | None,
) -> None:
    artist = await find_account(conn, artist_id)
    if artist is None or artist.role != "artist":
        raise not_found("artist")
    if artist_id == principal.user_id:
        raise conflict("artists cannot tip themselves", "own_tip")
    if video_id is not None:
        video = await videos.viewable(conn, video_id, principal.user_id)
        if video.artist_id != artist_id:
            raise conflict("the video is not this artist's", "artist_mismatch")
    if event_id is not None:
        event = await find_event(conn, event_id)
        if event is None:
            raise not_found("event")
        if event.artist_id != artist_id:
            raise conflict("the event is not this artist's", "artist_mismatch")


async def create(
    app: web.Application,
    principal: Principal,
    *,
    artist_id: uuid.UUID,
    amount: int,
    currency: str,
    video_id: uuid.UUID | None,
    event_id: uuid.UUID | None,
    message: str,
) -> dict[str, Any]:
    """Record a pending tip and start its payment; the development provider's succeeds at once.

    Raises ApiError for what the rules refuse, OrderError when the provider fails."""
    cfg, rt = app[TICKETING_CONFIG], app[RUNTIME]
    if currency not in cfg.currencies:
        raise ApiError(
            400, "invalid_currency", f"currency must be one of {', '.join(cfg.currencies)}"
        )
    if not cfg.tip_min <= amount <= cfg.tip_max:
        raise ApiError(
            400,
            "invalid_amount",
            f"a tip is between {cfg.tip_min} and {cfg.tip_max} minor units",
        )
    await _rate_limit(app, principal)
    tip_id = uuid.uuid4()
    async with app[DB].acquire() as conn:
        await _check_target(conn, principal, artist_id, video_id, event_id)
        row = await _insert(
            conn,
            id=tip_id,
            fan_id=principal.user_id,
            artist_id=artist_id,
            video_id=video_id,
            event_id=event_id,
            split=split_tip(amount, cfg.tip_platform_bps),
            currency=currency,
            message=message,
            provider=rt.provider.name,
            now=app[CLOCK].now(),
        )
    try:
        payment = await rt.provider.create_tip(
            amount=amount,
            currency=currency,
            tip_id=tip_id,
            artist_id=artist_id,
            idempotency_key=idempotency_key(tip_id),
        )
    except PaymentError as exc:
        log.warning("payment creation failed for tip %s: %s", tip_id, exc)
        async with app[DB].acquire() as conn:
            await _transition(conn, tip_id, ("pending",), "failed", app[CLOCK].now())
        raise OrderError(
            PROVIDER_ERROR, "the payment service is unavailable: nothing was charged"
        ) from None
    async with app[DB].acquire() as conn:
        await _set_payment_ref(conn, tip_id, payment.id)
    status = row["status"]
    if isinstance(rt.provider, payments.DevPaymentProvider):
        await rt.provider.confirm(payment.id)
        await sync_payment(app, payment.id)
        async with app[DB].acquire() as conn:
            current = await get(conn, tip_id)
        assert current is not None
        status = current["status"]
    return {
        "tip_id": str(tip_id),
        "client_secret": payment.client_secret,
        "provider": rt.provider.name,
        "status": status,
        "amount": amount,
        "currency": currency,
    }


# --- payment state ------------------------------------------------------------------------


async def sync_payment(app: web.Application, payment_id: str) -> str:
    """Fetch a tip's payment from the provider and bring the tip in line; the outcome."""
    payment = await app[RUNTIME].provider.retrieve(payment_id)
    async with app[DB].acquire() as conn:
        tip = await by_payment_ref(conn, payment.id)
        if tip is None and payment.tip_id is not None:
            # Created at the provider, but the reply was lost before its id was kept.
            await _set_payment_ref(conn, payment.tip_id, payment.id)
            tip = await by_payment_ref(conn, payment.id)
    if tip is None:
        return "unknown_payment"
    if payment.status == payments.SUCCEEDED:
        outcome = await _settle_success(app, tip, payment)
    elif payment.status in (payments.FAILED, payments.CANCELED):
        to = "failed" if payment.status == payments.FAILED else "canceled"
        async with app[DB].acquire() as conn:
            row = await _transition(conn, tip["id"], ("pending",), to, app[CLOCK].now())
        outcome = f"tip_{to}" if row is not None else "ignored"
    else:
        outcome = "pending"
    PAYMENTS.labels(outcome).inc()
    return outcome


async def _settle_success(app: web.Application, tip: Any, payment: Payment) -> str:
    if (payment.amount, payment.currency) != (tip["amount_minor"], tip["currency"].strip()):
        # Money that is not what the tip says is never kept: the tip fails, the payment goes back.
        log.error("payment %s amount/currency does not match tip %s", payment.id, tip["id"])
        if tip["status"] not in ("pending", "failed"):
            return "ignored"
        await app[RUNTIME].provider.refund(
            payment.id, idempotency_key=refund_key(tip["id"]), reason="amount_mismatch"
        )
        async with app[DB].acquire() as conn:
            await _transition(conn, tip["id"], ("pending",), "failed", app[CLOCK].now())
        return "refunded_amount_mismatch"
    async with app[DB].acquire() as conn, conn.transaction():
        row = await _transition(conn, tip["id"], ("pending",), "succeeded", app[CLOCK].now())
        if row is None:
            return "duplicate"
        currency = row["currency"].strip()
        await ledger.post_later(
            app,
            conn,
            ledger.tip(
                row["id"],
                row["artist_id"],
                currency,
                row["amount_minor"],
                row["fan_id"],
                platform=row["platform_minor"],
                processing=row["processing_minor"],
            ),
        )
        await audit.record(
            app,
            conn,
            "TIP_PAID",
            actor=row["fan_id"],
            subject=row["id"],
            artist=str(row["artist_id"]),
            payment=payment.id,
            amount=row["amount_minor"],
            currency=currency,
            artist_share=row["artist_minor"],
            platform=row["platform_minor"],
            processing=row["processing_minor"],
        )
        if row["event_id"] is not None:
            await jobs.enqueue(
                app,
                conn,
                CHAT_JOB,
                {"tip_id": str(row["id"])},
                dedupe_key=f"{CHAT_JOB}:{row['id']}",
            )
    return "tip_paid"


async def chat_job(app: web.Application, payload: dict[str, Any]) -> None:
    """The job: show a paid tip in its event's chat, highlighted, while the event is live."""
    async with app[DB].acquire() as conn:
        tip = await get(conn, uuid.UUID(payload["tip_id"]))
        if tip is None or tip["event_id"] is None:
            return
        event = await find_event(conn, tip["event_id"])
        fan = await find_account(conn, tip["fan_id"])
    if event is None or event.status != "live" or fan is None:
        return
    await highlight(
        app,
        event.id,
        fan.id,
        fan.display_name,
        tip["message"],
        {
            "kind": "tip",
            "tip_id": str(tip["id"]),
            "amount": tip["amount_minor"],
            "currency": tip["currency"].strip(),
        },
    )


# --- refunds ------------------------------------------------------------------------------


async def refund(app: web.Application, principal: Principal, tip_id: uuid.UUID) -> dict[str, Any]:
    """An admin or the tipped artist refunds a paid tip in full: the provider first, then
    the tip and its ledger postings are reversed."""
    async with app[DB].acquire() as conn:
        tip = await get(conn, tip_id)
    if tip is None or (not principal.is_admin and tip["artist_id"] != principal.user_id):
        raise not_found("tip")
    if tip["status"] == "refunded":
        raise conflict("the tip is already refunded", "already_refunded")
    if tip["status"] != "succeeded":
        raise conflict(f"only a paid tip can be refunded (this one is {tip['status']})")
    try:
        await app[RUNTIME].provider.refund(
            tip["payment_ref"], idempotency_key=refund_key(tip_id), reason="requested"
        )
    except PaymentError as exc:
        log.warning("refund of tip %s failed: %s", tip_id, exc)
        raise OrderError(
            PROVIDER_ERROR, "the payment service refused or is unavailable; the tip is unchanged"
        ) from None
    row = await close(app, tip_id, "requested", principal.user_id)
    if row is None:
        async with app[DB].acquire() as conn:
            row = await get(conn, tip_id)
    return tip_json(row)


async def close(
    app: web.Application, tip_id: uuid.UUID, reason: str, actor: object
) -> asyncpg.Record | None:
    """Mark a paid tip refunded and have its postings reversed, once."""
    async with app[DB].acquire() as conn, conn.transaction():
        row = await _transition(conn, tip_id, ("succeeded",), "refunded", app[CLOCK].now())
        if row is None:
            return None
        currency = row["currency"].strip()
        await ledger.tip_reversed(
            app,
            conn,
            ledger.TipReversal(
                row["id"],
                row["artist_id"],
                currency,
                "chargeback" if reason == "dispute_lost" else "refund",
            ),
        )
        await audit.record(
            app,
            conn,
            "TIP_REFUNDED",
            actor=actor,
            subject=tip_id,
            reason=reason,
            payment=row["payment_ref"],
            amount=row["amount_minor"],
            currency=currency,
        )
    return row


async def on_refunded_payment(app: web.Application, payment_id: str, reason: str) -> str | None:
    """A refund or lost dispute seen at the provider: the tip's outcome, or None when the
    payment is not a tip's."""
    async with app[DB].acquire() as conn:
        tip = await by_payment_ref(conn, payment_id)
    if tip is None:
        return None
    return "refunded" if await close(app, tip["id"], reason, None) is not None else "duplicate"


def setup(app: web.Application) -> None:
    """Register the tip's chat job."""
    jobs.register(app, CHAT_JOB, chat_job)
