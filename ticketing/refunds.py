"""Refunds and chargebacks: money back revokes the ticket and every playback session it opened.

A cancelled event's refunds are a job enqueued in the cancellation's own transaction
(`on_status_in_transaction`), retried by the job queue until every paid ticket is refunded;
the periodic sweep (ticketing/sweeper.py) also finds cancelled events with paid tickets.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
from aiohttp import web

import ledger
from server import audit, jobs
from server.accounts.tokens import Principal
from server.keys import CLOCK, DB
from server.live.service import find_event, get_event
from server.playback.service import revoke_viewer
from ticketing import store
from ticketing.errors import PROVIDER_ERROR, OrderError
from ticketing.keys import RUNTIME
from ticketing.orders import refund_key, release_for_cancelled_event
from ticketing.payments import PaymentError
from ticketing.views import ticket_json

log = logging.getLogger(__name__)


async def refund(
    app: web.Application, principal: Principal, ticket_id: uuid.UUID
) -> dict[str, Any]:
    """An admin or the event's artist refunds a paid ticket in full."""
    async with app[DB].acquire() as conn:
        ticket = await store.get(conn, ticket_id)
    if ticket is None:
        raise OrderError("not_found", "ticket not found")
    event = await get_event(app, ticket["event_id"])
    if not event.is_managed_by(principal):
        raise OrderError("forbidden", "only an admin or the event's artist can refund a ticket")
    return ticket_json(await refund_ticket(app, ticket, principal.user_id, "requested"))


async def refund_ticket(app: web.Application, ticket: Any, actor: object, reason: str) -> Any:
    """Refund at the provider, then close the ticket; nothing changes if the provider refuses."""
    now = app[CLOCK].now()
    async with app[DB].acquire() as conn:
        # 'refunding' is claimed again: a refund interrupted midway (a crash, a lost reply)
        # is retried, and the provider's idempotency key makes it the same refund.
        claimed = await store.transition(
            conn, ticket["id"], ("paid", "refunding"), "refunding", now
        )
        current = claimed if claimed is not None else await store.get(conn, ticket["id"])
    if claimed is None:
        status = ticket["status"] if current is None else current["status"]
        if status == "refunded":
            raise OrderError("already_refunded", "the ticket is already refunded")
        raise OrderError(
            "not_refundable", f"only a paid ticket can be refunded (this one is {status})"
        )
    try:
        await app[RUNTIME].provider.refund(
            claimed["payment_ref"], idempotency_key=refund_key(ticket["id"]), reason=reason
        )
    except PaymentError as exc:
        log.warning("refund of ticket %s failed: %s", ticket["id"], exc)
        async with app[DB].acquire() as conn:
            await store.transition(conn, ticket["id"], ("refunding",), "paid", app[CLOCK].now())
        raise OrderError(
            PROVIDER_ERROR, "the payment service refused or is unavailable; the ticket is unchanged"
        ) from None
    row = await close_ticket(app, ticket["id"], "refunded", reason, actor)
    if row is None:  # closed meanwhile by the provider's own notification
        async with app[DB].acquire() as conn:
            row = await store.get(conn, ticket["id"])
    return row


async def close_ticket(
    app: web.Application, ticket_id: uuid.UUID, status: str, reason: str, actor: object
) -> Any:
    """Refund or revoke a paid ticket: release its seat, void its sale, stop its sessions."""
    now = app[CLOCK].now()
    async with app[DB].acquire() as conn, conn.transaction():
        row = await store.transition(conn, ticket_id, ("paid", "refunding"), status, now, reason)
        if row is not None:
            await store.sale_refunded(conn, ticket_id, now)
            kind = "TICKET_REFUNDED" if status == "refunded" else "TICKET_REVOKED"
            await audit.record(
                app,
                conn,
                kind,
                actor=actor,
                subject=ticket_id,
                event=str(row["event_id"]),
                reason=reason,
                payment=row["payment_ref"],
                amount=row["amount_minor"],
                currency=row["currency"].strip(),
            )
            event = await find_event(conn, row["event_id"])
            assert event is not None
            await ledger.ticket_reversed(
                app,
                conn,
                ledger.TicketReversal(
                    ticket_id,
                    row["event_id"],
                    event.artist_id,
                    row["currency"].strip(),
                    row["amount_minor"],
                    "refund" if status == "refunded" else "chargeback",
                ),
            )
    if row is None:
        return None
    await revoke_viewer(app, row["user_id"], row["event_id"], f"ticket_{status}", actor)
    return row


async def close_unissued(
    app: web.Application, ticket_id: uuid.UUID, status: str, reason: str
) -> bool:
    """Close a ticket not yet issued (reserved or released) whose money went back before its
    success was seen, so that success can no longer issue it; releases a held seat."""
    async with app[DB].acquire() as conn, conn.transaction():
        row = await store.transition(
            conn, ticket_id, ("reserved", "released"), status, app[CLOCK].now(), reason
        )
        if row is not None:
            kind = "TICKET_REFUNDED" if status == "refunded" else "TICKET_REVOKED"
            await audit.record(
                app,
                conn,
                kind,
                subject=ticket_id,
                event=str(row["event_id"]),
                reason=reason,
                payment=row["payment_ref"],
                amount=row["amount_minor"],
                currency=row["currency"].strip(),
            )
    return row is not None


async def on_charge_refunded(app: web.Application, charge_id: str) -> str:
    """A refund made at the provider (e.g. from its dashboard) revokes the ticket."""
    charge = await app[RUNTIME].provider.retrieve_charge(charge_id)
    if charge.amount_refunded < charge.amount:
        return "partial_refund_ignored"
    if charge.payment_id is None:
        return "unknown_payment"
    async with app[DB].acquire() as conn:
        ticket = await store.by_payment_ref(conn, charge.payment_id)
    if ticket is None:
        return "unknown_payment"
    row = await close_ticket(app, ticket["id"], "refunded", "refunded_at_provider", None)
    if row is None and await close_unissued(app, ticket["id"], "refunded", "refunded_at_provider"):
        return "refunded"
    return "refunded" if row is not None else "duplicate"


async def on_dispute(app: web.Application, dispute_id: str) -> str:
    """A lost dispute (chargeback) revokes the ticket; other outcomes change nothing."""
    provider = app[RUNTIME].provider
    dispute = await provider.retrieve_dispute(dispute_id)
    if dispute.status != "lost":
        return f"dispute_{dispute.status}"
    payment_id = dispute.payment_id
    if payment_id is None and dispute.charge_id is not None:
        payment_id = (await provider.retrieve_charge(dispute.charge_id)).payment_id
    if payment_id is None:
        return "unknown_payment"
    async with app[DB].acquire() as conn:
        ticket = await store.by_payment_ref(conn, payment_id)
    if ticket is None:
        return "unknown_payment"
    row = await close_ticket(app, ticket["id"], "revoked", "dispute_lost", None)
    if row is None and await close_unissued(app, ticket["id"], "revoked", "dispute_lost"):
        return "revoked"
    return "revoked" if row is not None else "duplicate"


REFUND_EVENT_JOB = "ticketing.refund_event"


class RefundsIncomplete(Exception):
    """Some of a cancelled event's tickets could not be refunded yet (the job retries)."""


async def on_status_in_transaction(
    app: web.Application, conn: asyncpg.Connection, event_id: uuid.UUID, status: str
) -> None:
    """STATUS_OUTBOX hook: a cancellation marks the event and enqueues its refunds in the
    cancellation's own transaction, so no commit can leave paid tickets unrefunded."""
    if status != "cancelled":
        return
    await store.record_cancelled_event(conn, event_id)
    await jobs.enqueue(
        app,
        conn,
        REFUND_EVENT_JOB,
        {"event_id": str(event_id)},
        dedupe_key=f"{REFUND_EVENT_JOB}:{event_id}",
    )


async def refund_event_job(app: web.Application, payload: dict[str, Any]) -> None:
    """The job: refund a cancelled event; raises (so the queue retries) until all are done.
    Safe to run again: refunded tickets are skipped, and a provider refund is idempotent."""
    await refund_cancelled_event(app, uuid.UUID(payload["event_id"]))


async def refund_cancelled_event(app: web.Application, event_id: uuid.UUID) -> int:
    """Release every hold of a cancelled event (cancelling its payment) and refund every paid
    ticket; returns how many were refunded, or raises RefundsIncomplete naming the rest."""
    await release_for_cancelled_event(app, event_id)
    async with app[DB].acquire() as conn:
        tickets = await store.paid_tickets(conn, event_id)
    done, failed = 0, 0
    for ticket in tickets:
        try:
            await refund_ticket(app, ticket, None, "event_cancelled")
            done += 1
        except OrderError as exc:
            failed += 1
            log.warning("refund of ticket %s on cancellation: %s", ticket["id"], exc.message)
    if failed:
        raise RefundsIncomplete(f"{failed} of {len(tickets)} refunds of event {event_id} failed")
    return done


STALE_REFUNDING = timedelta(minutes=2)


async def retry_refunds(app: web.Application, limit: int = 100) -> int:
    """Sweep pass: refund paid tickets of cancelled events, and finish refunds left in
    'refunding' (e.g. by a crash); the provider's idempotency key makes a retry safe."""
    now = app[CLOCK].now()
    async with app[DB].acquire() as conn:
        cancelled = await store.paid_of_cancelled_events(conn, limit)
        stale = await store.stale_refunding(conn, now - STALE_REFUNDING, limit)
    done = 0
    for ticket, reason in [
        *((t, "event_cancelled") for t in cancelled),
        *((t, t["close_reason"] or "requested") for t in stale),
    ]:
        try:
            await refund_ticket(app, ticket, None, reason)
            done += 1
        except OrderError as exc:
            log.warning("retrying the refund of ticket %s: %s", ticket["id"], exc.message)
    return done
