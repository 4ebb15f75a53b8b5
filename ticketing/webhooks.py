"""Stripe webhooks: verified signature, each event processed once, state re-fetched from Stripe.

The body only says *which* object changed; what the app does follows from the object as
Stripe returns it now. That makes duplicated and out-of-order deliveries harmless.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import stripe
from aiohttp import web

from server.errors import ApiError, bad_request, conflict
from server.keys import CLOCK, DB
from ticketing import orders, refunds, store, subscriptions, tips
from ticketing.keys import RUNTIME, TICKETING_CONFIG
from ticketing.metrics import WEBHOOKS
from ticketing.payments import PaymentError

log = logging.getLogger(__name__)
# A claim unfinished this long is taken to belong to a process that died mid-handler.
STALE_CLAIM = timedelta(minutes=2)

Handler = Callable[[web.Application, str], Awaitable[str]]


async def _payment_intent(app: web.Application, payment_id: str) -> str:
    """A payment is a tip's or a ticket's; each settles its own."""
    async with app[DB].acquire() as conn:
        tip = await tips.by_payment_ref(conn, payment_id)
    if tip is not None:
        return await tips.sync_payment(app, payment_id)
    outcome = await orders.sync_payment(app, payment_id)
    if outcome == "unknown_payment":  # perhaps a tip whose payment id was never kept
        return await tips.sync_payment(app, payment_id)
    return outcome


async def _charge_refunded(app: web.Application, charge_id: str) -> str:
    charge = await app[RUNTIME].provider.retrieve_charge(charge_id)
    if charge.payment_id is not None and charge.amount_refunded >= charge.amount:
        for settle in (tips.on_refunded_payment, subscriptions.on_refunded_payment):
            outcome = await settle(app, charge.payment_id, "refunded_at_provider")
            if outcome is not None:
                return outcome
    return await refunds.on_charge_refunded(app, charge_id)


async def _dispute(app: web.Application, dispute_id: str) -> str:
    provider = app[RUNTIME].provider
    dispute = await provider.retrieve_dispute(dispute_id)
    payment_id = dispute.payment_id
    if payment_id is None and dispute.charge_id is not None:
        payment_id = (await provider.retrieve_charge(dispute.charge_id)).payment_id
    if dispute.status == "lost" and payment_id is not None:
        for settle in (tips.on_refunded_payment, subscriptions.on_refunded_payment):
            outcome = await settle(app, payment_id, "dispute_lost")
            if outcome is not None:
                return outcome
    return await refunds.on_dispute(app, dispute_id)


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": _payment_intent,
    "payment_intent.payment_failed": _payment_intent,
    "payment_intent.canceled": _payment_intent,
    "payment_intent.processing": _payment_intent,
    "charge.refunded": _charge_refunded,
    "charge.dispute.closed": _dispute,
    "invoice.paid": subscriptions.on_invoice,
    "invoice.payment_succeeded": subscriptions.on_invoice,
    "invoice.payment_failed": subscriptions.on_invoice,
    "customer.subscription.updated": subscriptions.on_subscription,
    "customer.subscription.deleted": subscriptions.on_subscription,
}


def verify(app: web.Application, payload: bytes, header: str | None) -> dict[str, Any]:
    """Check the Stripe-Signature header with the library's own verifier; the parsed event."""
    cfg = app[TICKETING_CONFIG]
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("the body is not UTF-8", "invalid_payload") from None
    try:
        stripe.WebhookSignature.verify_header(
            text, header, cfg.stripe_webhook_secret, cfg.webhook_tolerance
        )
    except stripe.SignatureVerificationError as exc:
        stale = "tolerance" in str(exc)
        WEBHOOKS.labels("-", "stale_timestamp" if stale else "bad_signature").inc()
        if stale:
            raise bad_request(
                "the signature's timestamp is outside the 300 s tolerance", "stale_timestamp"
            ) from None
        raise bad_request("the Stripe-Signature header does not verify", "bad_signature") from None
    try:
        event = json.loads(text)
    except ValueError:
        raise bad_request("the body is not JSON", "invalid_payload") from None
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
    ):
        raise bad_request("not a Stripe event", "invalid_payload")
    return event


async def handle(app: web.Application, payload: bytes, header: str | None) -> dict[str, Any]:
    """Verify, de-duplicate and act on one delivery."""
    if app[RUNTIME].provider.name != "stripe":
        raise ApiError(404, "not_found", "Stripe payments are not configured")
    event = verify(app, payload, header)
    kind = event["type"]
    handler = HANDLERS.get(kind)
    if handler is None:
        WEBHOOKS.labels("unsupported", "refused").inc()
        raise bad_request(f"unsupported event type {kind!r}", "unsupported_event_type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    object_id = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(object_id, str) or not object_id:
        raise bad_request("the event names no object", "invalid_payload")
    now = app[CLOCK].now()
    async with app[DB].acquire() as conn:
        claim = await store.claim_webhook(conn, event["id"], "stripe", kind, now, now - STALE_CLAIM)
    if claim == store.PROCESSED:
        WEBHOOKS.labels(kind, "duplicate").inc()
        return {"received": True, "duplicate": True}
    if claim == store.IN_FLIGHT:
        # Another delivery of this event is being processed right now; if that one dies
        # unfinished, the claim goes stale and Stripe's retry of this one takes it over.
        WEBHOOKS.labels(kind, "in_flight").inc()
        raise conflict("this event is being processed; retry later", "in_progress")
    try:
        outcome = await handler(app, object_id)
    except PaymentError as exc:
        log.warning("webhook %s (%s): provider unavailable: %s", event["id"], kind, exc)
        async with app[DB].acquire() as conn:
            await store.unclaim_webhook(conn, event["id"])
        WEBHOOKS.labels(kind, "retry").inc()
        raise ApiError(
            503, "provider_unavailable", "could not fetch the object from Stripe; retry later"
        ) from None
    except BaseException:
        async with app[DB].acquire() as conn:
            await store.unclaim_webhook(conn, event["id"])
        raise
    async with app[DB].acquire() as conn:
        await store.finish_webhook(conn, event["id"], app[CLOCK].now())
    WEBHOOKS.labels(kind, outcome).inc()
    return {"received": True, "outcome": outcome}
