"""Purchases: seat holds, payment state from the provider, issuing, expiry and late payments.

Invariants: a seat is held only by a reserved, paid or refunding ticket (see store); a user
has at most one such ticket per event; a payment that succeeds for a ticket that can no
longer be issued (sold out meanwhile, event over, or the user holds another ticket) is
refunded at once, never kept.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from aiohttp import web

import ledger
from server import audit
from server.accounts.tokens import Principal
from server.keys import CLOCK, DB
from server.live.event import Event
from server.live.service import get_event
from ticketing import holds, payments, store
from ticketing.errors import PROVIDER_ERROR, OrderError
from ticketing.keys import RUNTIME, TICKETING_CONFIG
from ticketing.metrics import PAYMENTS, PURCHASES
from ticketing.payments import Payment, PaymentError
from ticketing.split import split
from ticketing.validation import ip_digest
from ticketing.views import ticket_json

log = logging.getLogger(__name__)


def idempotency_key(ticket_id: uuid.UUID) -> str:
    """One payment per ticket, however often its creation is retried."""
    return f"mhc-ticket-{ticket_id}"


def refund_key(ticket_id: uuid.UUID) -> str:
    """One refund per ticket, whichever path asks for it."""
    return f"mhc-refund-{ticket_id}"


def _payment_json(app: web.Application, payment: Payment) -> dict[str, Any]:
    provider = app[RUNTIME].provider
    out: dict[str, Any] = {
        "provider": provider.name,
        "label": provider.label,
        "id": payment.id,
        "status": payment.status,
        "client_secret": payment.client_secret,
        "amount": payment.amount,
        "currency": payment.currency,
    }
    cfg = app[TICKETING_CONFIG]
    if provider.name == "stripe" and cfg.stripe_publishable_key:
        out["publishable_key"] = cfg.stripe_publishable_key
    if provider.name == "dev":
        out["confirm_url"] = f"/api/payments/dev/{payment.id}/confirm"
    return out


async def _rate_limit(app: web.Application, principal: Principal) -> None:
    allowed, wait_ms = await app[RUNTIME].purchase_limit.take(
        str(principal.user_id), app[CLOCK].time()
    )
    if not allowed:
        PURCHASES.labels("rate_limited").inc()
        raise OrderError(
            "rate_limited",
            "too many purchase attempts; try again shortly",
            retry_after=max(1, math.ceil(wait_ms / 1000)),
        )


@dataclass(frozen=True)
class Purchase:
    """A purchase started now (`created`), or the caller's hold already in progress."""

    created: bool
    reply: dict[str, Any]


async def purchase(
    app: web.Application, principal: Principal, event_id: uuid.UUID, ip: str | None = None
) -> Purchase:
    """Hold one seat and start its payment (or return the caller's hold in progress); raises
    OrderError when the rules or the provider refuse."""
    await _rate_limit(app, principal)
    event = await get_event(app, event_id)
    if event.is_cancelled:
        PURCHASES.labels("refused").inc()
        raise OrderError("event_cancelled", "the event was cancelled")
    if not event.is_open:
        PURCHASES.labels("refused").inc()
        raise OrderError("event_ended", "the event has ended")
    if event.is_free:
        PURCHASES.labels("refused").inc()
        raise OrderError("free_event", "this event is free: no ticket is needed")
    cfg, rt, clock = app[TICKETING_CONFIG], app[RUNTIME], app[CLOCK]
    now = clock.now()
    released: list[Any] = []
    ticket = None
    async with app[DB].acquire() as conn:
        existing = await store.active_for_user(conn, event_id, principal.user_id)
        if existing is not None and existing["status"] != "reserved":
            PURCHASES.labels("duplicate").inc()
            raise OrderError("already_has_ticket", "you already have a ticket for this event")
        if existing is not None and existing["reserved_until"] > now:
            return Purchase(False, await _pending_reply(app, existing))
        try:
            async with conn.transaction():
                if existing is not None:  # the caller's own hold ran out: let it go first
                    released += await store.release_expired(conn, event_id, now, principal.user_id)
                address = None if ip is None else ip_digest(app, ip)
                await holds.check(app, conn, principal.user_id, address, now)
                seat = await store.claim_seat(conn, event_id, event.capacity)
                if not seat:
                    freed = await store.release_expired(conn, event_id, now)
                    released += freed
                    seat = bool(freed) and await store.claim_seat(conn, event_id, event.capacity)
                if seat:
                    ticket = await store.insert_reserved(
                        conn,
                        uuid.uuid4(),
                        event_id,
                        principal.user_id,
                        event.price_minor,
                        event.currency,
                        event.replay_access,
                        rt.provider.name,
                        now,
                        now + timedelta(seconds=cfg.hold_seconds),
                    )
                    await holds.record(conn, ticket["id"], address)
                for row in released:
                    await _record_release(app, conn, row, "expired")
        except asyncpg.UniqueViolationError:
            PURCHASES.labels("duplicate").inc()
            raise OrderError(
                "already_has_ticket",
                "you already have a ticket (or a purchase in progress) for this event",
            ) from None
    for row in released:
        _cancel_later(app, row)
    if ticket is None:
        PURCHASES.labels("sold_out").inc()
        raise OrderError("sold_out", "the event is sold out")
    try:
        payment = await rt.provider.create(
            amount=ticket["amount_minor"],
            currency=ticket["currency"].strip(),
            ticket_id=ticket["id"],
            event_id=event_id,
            idempotency_key=idempotency_key(ticket["id"]),
        )
    except PaymentError as exc:
        log.warning("payment creation failed for ticket %s: %s", ticket["id"], exc)
        async with app[DB].acquire() as conn:
            await store.transition(
                conn, ticket["id"], ("reserved",), "released", clock.now(), "payment_error"
            )
        PURCHASES.labels("provider_error").inc()
        raise OrderError(
            PROVIDER_ERROR,
            "the payment service is unavailable: nothing was charged and no seat is held",
        ) from None
    async with app[DB].acquire() as conn:
        await store.set_payment_ref(conn, ticket["id"], payment.id)
    PURCHASES.labels("reserved").inc()
    return Purchase(True, {"ticket": ticket_json(ticket), "payment": _payment_json(app, payment)})


async def _pending_reply(app: web.Application, ticket: Any) -> dict[str, Any]:
    if ticket["payment_ref"] is None:
        raise OrderError(
            "purchase_in_progress", "a purchase for this event is already being started"
        )
    try:
        payment = await app[RUNTIME].provider.retrieve(ticket["payment_ref"])
    except PaymentError:
        raise OrderError(PROVIDER_ERROR, "the payment service is unavailable") from None
    return {"ticket": ticket_json(ticket), "payment": _payment_json(app, payment)}


async def _record_release(
    app: web.Application, conn: asyncpg.Connection, row: Any, reason: str
) -> None:
    """The forensic record of a released hold, in the release's transaction."""
    await audit.record(
        app,
        conn,
        "SEAT_RELEASED",
        subject=row["id"],
        event=str(row["event_id"]),
        reason=reason,
        payment=row["payment_ref"],
    )


def _cancel_later(app: web.Application, row: Any) -> None:
    """Cancel a released hold's payment in the background (best effort)."""
    rt = app[RUNTIME]
    if row["payment_ref"] and row["provider"] == rt.provider.name:
        rt.spawn(_cancel_quietly(app, row["payment_ref"]))


async def _cancel_quietly(app: web.Application, payment_id: str) -> None:
    try:
        await app[RUNTIME].provider.cancel(payment_id)
    except PaymentError as exc:
        # Already succeeded or processing: its webhook (or the next sync) settles it.
        log.info("could not cancel payment %s: %s", payment_id, exc)


async def ticket_for_payment(app: web.Application, payment: Payment) -> Any:
    """The ticket a payment belongs to (re-attaching its id if creation was interrupted)."""
    async with app[DB].acquire() as conn:
        ticket = await store.by_payment_ref(conn, payment.id)
        if ticket is None and payment.ticket_id is not None:
            candidate = await store.get(conn, payment.ticket_id)
            if candidate is not None and candidate["payment_ref"] is None:
                await store.set_payment_ref(conn, candidate["id"], payment.id)
                ticket = await store.get(conn, candidate["id"])
    return ticket


async def sync_payment(app: web.Application, payment_id: str) -> str:
    """Fetch a payment from the provider and bring its ticket in line; returns the outcome.

    Raises PaymentError when the provider cannot be asked (the caller retries later).
    """
    payment = await app[RUNTIME].provider.retrieve(payment_id)
    ticket = await ticket_for_payment(app, payment)
    if ticket is None:
        outcome = "unknown_payment"
    elif payment.status == payments.SUCCEEDED:
        outcome = await settle_success(app, ticket, payment)
    elif payment.status in (payments.FAILED, payments.CANCELED):
        outcome = await settle_failure(app, ticket, payment)
    else:
        outcome = "pending"
    PAYMENTS.labels(outcome).inc()
    return outcome


async def settle_success(app: web.Application, ticket: Any, payment: Payment) -> str:
    """Issue the ticket, or refund the payment when the ticket cannot be issued any more."""
    now = app[CLOCK].now()
    if (payment.amount, payment.currency) != (ticket["amount_minor"], ticket["currency"].strip()):
        log.error("payment %s amount/currency does not match ticket %s", payment.id, ticket["id"])
        async with app[DB].acquire() as conn:
            await store.transition(
                conn, ticket["id"], ("reserved",), "released", now, "amount_mismatch"
            )
            ticket = await store.get(conn, ticket["id"])
        if ticket["status"] == "released":
            return await refund_unissued(app, ticket, payment, "amount_mismatch")
        return "ignored"
    event = await get_event(app, ticket["event_id"])
    if not event.is_open:
        # Paid after the event was cancelled or ended: the ticket is worth nothing now, so
        # the hold goes and the money goes back (never issued, never kept).
        reason = _closed_reason(event)
        async with app[DB].acquire() as conn:
            await store.transition(conn, ticket["id"], ("reserved",), "released", now, reason)
            current = await store.get(conn, ticket["id"])
        if current is None or current["status"] != "released":
            return "duplicate"
        return await refund_unissued(app, current, payment, reason)
    if ticket["status"] == "reserved":
        async with app[DB].acquire() as conn:
            async with conn.transaction():
                row = await store.mark_paid(conn, ticket["id"], now)
                if row is not None:
                    await store.insert_sale(
                        conn, row, split(row["amount_minor"]), now, event.artist_id
                    )
                    await _record_issue(app, conn, row, payment, late=False)
                    await _post_sale(app, conn, row, event.artist_id)
            if row is None:
                ticket = await store.get(conn, ticket["id"])
        if row is not None:
            return "issued"
    if ticket["status"] != "released":
        return "duplicate"
    # Paid after its hold was released: issue it if a seat is still free, else refund.
    reason = "sold_out"
    row = None
    try:
        async with app[DB].acquire() as conn, conn.transaction():
            row = await store.reacquire(conn, ticket, event.capacity, now)
            if row is not None:
                await store.insert_sale(conn, row, split(row["amount_minor"]), now, event.artist_id)
                await _record_issue(app, conn, row, payment, late=True)
                await _post_sale(app, conn, row, event.artist_id)
    except store.SeatUnavailable:
        row = None
    except asyncpg.UniqueViolationError:
        reason = "already_has_ticket"
    if row is not None:
        return "issued_late"
    async with app[DB].acquire() as conn:
        current = await store.get(conn, ticket["id"])
    if current is None or current["status"] != "released":
        return "duplicate"
    return await refund_unissued(app, current, payment, reason)


async def _post_sale(
    app: web.Application, conn: asyncpg.Connection, row: Any, artist_id: uuid.UUID
) -> None:
    """Hand the sale to the ledger in the issue's transaction (its outbox)."""
    parts = split(row["amount_minor"])
    await ledger.ticket_paid(
        app,
        conn,
        ledger.TicketSale(
            row["id"],
            row["event_id"],
            artist_id,
            row["currency"].strip(),
            parts.price,
            parts.artist,
            parts.platform,
            parts.processing,
        ),
    )


def _closed_reason(event: Event) -> str:
    """Why a payment for a ticket of an event no longer selling is refunded."""
    return "event_cancelled" if event.is_cancelled else "event_over"


async def _record_issue(
    app: web.Application, conn: asyncpg.Connection, row: Any, payment: Payment, late: bool
) -> None:
    """The forensic records of an issue, in its transaction (through the outbox)."""
    parts = split(row["amount_minor"])
    await audit.record(
        app,
        conn,
        "PAYMENT_COMPLETED",
        actor=row["user_id"],
        subject=row["id"],
        payment=payment.id,
        provider=row["provider"],
        amount=row["amount_minor"],
        currency=row["currency"].strip(),
    )
    await audit.record(
        app,
        conn,
        "TICKET_ISSUED",
        actor=row["user_id"],
        subject=row["id"],
        event=str(row["event_id"]),
        late=late,
        artist=parts.artist,
        platform=parts.platform,
        processing=parts.processing,
    )


async def refund_unissued(app: web.Application, ticket: Any, payment: Payment, reason: str) -> str:
    """Refund a payment whose (released) ticket will not be issued; money is never kept."""
    await app[RUNTIME].provider.refund(
        payment.id, idempotency_key=refund_key(ticket["id"]), reason=reason
    )
    async with app[DB].acquire() as conn, conn.transaction():
        row = await store.transition(
            conn, ticket["id"], ("released",), "refunded", app[CLOCK].now(), reason
        )
        if row is not None:
            await audit.record(
                app,
                conn,
                "PAYMENT_REFUNDED_SOLD_OUT",
                subject=ticket["id"],
                event=str(ticket["event_id"]),
                payment=payment.id,
                reason=reason,
                amount=payment.amount,
                currency=payment.currency,
            )
    return f"refunded_{reason}"


async def settle_failure(app: web.Application, ticket: Any, payment: Payment) -> str:
    """A declined or cancelled payment releases the seat its ticket held."""
    if ticket["status"] != "reserved":
        return "ignored"
    reason = "payment_failed" if payment.status == payments.FAILED else "payment_cancelled"
    async with app[DB].acquire() as conn, conn.transaction():
        row = await store.transition(
            conn, ticket["id"], ("reserved",), "released", app[CLOCK].now(), reason
        )
        if row is not None:
            await audit.record(
                app,
                conn,
                "PAYMENT_FAILED",
                subject=row["id"],
                event=str(row["event_id"]),
                reason=reason,
                payment=payment.id,
            )
    if row is None:
        return "ignored"
    if payment.status == payments.FAILED:
        # A later attempt on the same payment must not succeed for a released seat.
        await _cancel_quietly(app, payment.id)
    return "released"


async def expire_due(app: web.Application, limit: int = 200) -> int:
    """Release holds whose time ran out (settling any that were paid meanwhile)."""
    rt = app[RUNTIME]
    async with app[DB].acquire() as conn:
        due = await store.due_reservations(conn, app[CLOCK].now(), limit)
    released = 0
    for ticket in due:
        if ticket["payment_ref"] and ticket["provider"] == rt.provider.name:
            try:
                payment = await rt.provider.retrieve(ticket["payment_ref"])
                if payment.status == payments.SUCCEEDED:
                    await settle_success(app, ticket, payment)
                    continue
                if payment.status != payments.CANCELED:
                    await rt.provider.cancel(payment.id)
            except PaymentError as exc:
                log.info("expiring ticket %s: provider said %s", ticket["id"], exc)
        async with app[DB].acquire() as conn, conn.transaction():
            row = await store.transition(
                conn, ticket["id"], ("reserved",), "released", app[CLOCK].now(), "expired"
            )
            if row is not None:
                await _record_release(app, conn, row, "expired")
        if row is not None:
            released += 1
    return released


async def release_for_cancelled_event(app: web.Application, event_id: uuid.UUID) -> int:
    """Release a cancelled event's holds and cancel their payments (refunding any that
    succeeded meanwhile); returns how many holds were released."""
    rt = app[RUNTIME]
    async with app[DB].acquire() as conn:
        holds = await store.reserved_tickets(conn, event_id)
    released = 0
    for ticket in holds:
        async with app[DB].acquire() as conn, conn.transaction():
            row = await store.transition(
                conn, ticket["id"], ("reserved",), "released", app[CLOCK].now(), "event_cancelled"
            )
            if row is not None:
                await _record_release(app, conn, row, "event_cancelled")
        if row is None:
            continue
        released += 1
        if not row["payment_ref"] or row["provider"] != rt.provider.name:
            continue
        try:
            try:
                await rt.provider.cancel(row["payment_ref"])
            except PaymentError:
                # Succeeded (or processing) already: settling it refunds it.
                await sync_payment(app, row["payment_ref"])
        except PaymentError as exc:
            log.warning("cancelling the payment of ticket %s: %s", row["id"], exc)
    return released
