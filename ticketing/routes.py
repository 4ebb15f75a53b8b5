"""HTTP routes of ticketing: purchase, tickets and codes, validation, refunds, webhooks,
replays and sales."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from server import validate
from server.accounts.auth import require_user
from server.clientip import client_ip
from server.errors import ApiError, bad_request, conflict, not_found
from server.keys import CLOCK, DB
from ticketing import orders, qr, refunds, replays, sales, store, validation, webhooks
from ticketing.errors import PROVIDER_ERROR, OrderError
from ticketing.keys import RUNTIME, TICKETING_CONFIG
from ticketing.payments import DevPaymentProvider, PaymentError
from ticketing.views import ticket_json

routes = web.RouteTableDef()
# How ticketing's domain errors are answered; every other refusal is a 409 conflict.
ORDER_STATUS = {"not_found": 404, "forbidden": 403, "rate_limited": 429, "too_many_holds": 429,
                PROVIDER_ERROR: 502}


def order_error(exc: OrderError) -> ApiError:
    """The HTTP answer to a refused purchase, payment or refund."""
    extra = {} if exc.retry_after is None else {"retry_after": exc.retry_after}
    return ApiError(ORDER_STATUS.get(exc.code, 409), exc.code, exc.message, **extra)


def _event_id(body: dict[str, Any]) -> uuid.UUID:
    raw = body.get("streamId", body.get("event_id"))
    if raw is None:
        raise bad_request("streamId is required", "invalid_field")
    return validate.uuid_value(raw, "streamId")


@routes.post("/api/tickets/purchase", name="tickets_purchase")
async def purchase(request: web.Request) -> web.Response:
    """Hold a seat and start its payment; the client confirms the payment with the provider."""
    principal = await require_user(request)
    event_id = _event_id(await validate.read_json(request))
    try:
        bought = await orders.purchase(request.app, principal, event_id, client_ip(request))
    except OrderError as exc:
        raise order_error(exc) from None
    return web.json_response(bought.reply, status=201 if bought.created else 200)


@routes.get("/api/tickets", name="tickets_mine")
async def mine(request: web.Request) -> web.Response:
    """The caller's tickets, newest first."""
    principal = await require_user(request)
    async with request.app[DB].acquire() as conn:
        rows = await store.list_for_user(conn, principal.user_id, 200)
    return web.json_response({"tickets": [ticket_json(r) for r in rows]})


async def _own_ticket(request: web.Request) -> Any:
    principal = await require_user(request)
    ticket_id = validate.path_uuid(request)
    async with request.app[DB].acquire() as conn:
        ticket = await store.get(conn, ticket_id)
    if ticket is None or (ticket["user_id"] != principal.user_id and not principal.is_admin):
        raise not_found("ticket")
    return ticket


@routes.get("/api/tickets/{id}", name="tickets_get")
async def get(request: web.Request) -> web.Response:
    """One of the caller's tickets."""
    return web.json_response(ticket_json(await _own_ticket(request)))


@routes.get("/api/tickets/{id}/qr", name="tickets_qr")
async def qr_code(request: web.Request) -> web.Response:
    """A fresh signed code for a paid ticket, as PNG (default), SVG or JSON (?format=)."""
    ticket = await _own_ticket(request)
    if ticket["status"] != "paid":
        raise conflict("only a paid ticket has a code", "unpaid" if ticket["status"] == "reserved"
                       else "canceled")
    cfg = request.app[TICKETING_CONFIG]
    now = int(request.app[CLOCK].time())
    code = qr.sign(cfg.qr_key, ticket["id"], ticket["event_id"], now, now + cfg.qr_ttl)
    fmt = request.query.get("format")
    if fmt is None:
        accept = request.headers.get("Accept", "")
        fmt = "svg" if "image/svg+xml" in accept else "json" if "application/json" in accept \
            else "png"
    headers = {"Cache-Control": "no-store", "X-Code-Expires-At": str(now + cfg.qr_ttl)}
    if fmt == "png":
        return web.Response(body=qr.render_png(code), content_type="image/png", headers=headers)
    if fmt == "svg":
        return web.Response(body=qr.render_svg(code), content_type="image/svg+xml",
                            headers=headers)
    if fmt == "json":
        return web.json_response({"code": code, "not_before": now, "expires_at": now + cfg.qr_ttl,
                                  "refresh_in": max(cfg.qr_ttl - 60, cfg.qr_ttl // 2)},
                                 headers=headers)
    raise bad_request("format must be png, svg or json", "invalid_field")


@routes.post("/api/tickets/validate", name="tickets_validate")
async def validate_code(request: web.Request) -> web.Response:
    """Admit a ticket by its code: a playback grant and chat access, or a reasoned 4xx."""
    principal = await require_user(request)
    body = await validate.read_json(request)
    code = body.get("code")
    if not isinstance(code, str) or not code or len(code) > 256:
        raise validation.rejected("invalid", "code is required")
    stream = body.get("streamId", body.get("event_id"))
    stream_id = None if stream is None else validate.uuid_value(stream, "streamId")
    return web.json_response(await validation.validate(request.app, principal, code.strip(),
                                                       client_ip(request), stream_id))


@routes.post("/api/tickets/{id}/reenter", name="tickets_reenter")
async def reenter(request: web.Request) -> web.Response:
    """The owner moves an admitted ticket's viewing session to this device."""
    principal = await require_user(request)
    return web.json_response(await validation.reenter(
        request.app, principal, validate.path_uuid(request), client_ip(request)))


@routes.post("/api/tickets/{id}/refund", name="tickets_refund")
async def refund(request: web.Request) -> web.Response:
    """An admin or the event's artist refunds a paid ticket."""
    principal = await require_user(request)
    try:
        return web.json_response(await refunds.refund(request.app, principal,
                                                      validate.path_uuid(request)))
    except OrderError as exc:
        raise order_error(exc) from None


@routes.post("/api/payments/stripe/webhook", name="stripe_webhook")
async def stripe_webhook(request: web.Request) -> web.Response:
    """Stripe's notifications (signature-verified; objects re-fetched before acting)."""
    payload = await request.read()
    return web.json_response(await webhooks.handle(request.app, payload,
                                                   request.headers.get("Stripe-Signature")))


@routes.post("/api/payments/dev/{payment}/confirm", name="dev_payment_confirm")
async def dev_confirm(request: web.Request) -> web.Response:
    """DEVELOPMENT PAYMENTS ONLY (no Stripe key configured): the buyer "pays" locally.

    Body (optional): {"outcome": "succeed" | "fail"} to try the declined-card path.
    """
    provider = request.app[RUNTIME].provider
    if not isinstance(provider, DevPaymentProvider):
        raise not_found("dev payment")
    principal = await require_user(request)
    payment_id = request.match_info["payment"]
    outcome = "succeed"
    if request.can_read_body:
        outcome = (await validate.read_json(request)).get("outcome", "succeed")
    if outcome not in ("succeed", "fail"):
        raise bad_request("outcome must be succeed or fail", "invalid_field")
    async with request.app[DB].acquire() as conn:
        ticket = await store.by_payment_ref(conn, payment_id)
    if ticket is None or ticket["user_id"] != principal.user_id:
        raise not_found("dev payment")
    try:
        await provider.confirm(payment_id, succeed=outcome == "succeed")
        result = await orders.sync_payment(request.app, payment_id)
    except PaymentError as exc:
        raise ApiError(409, "payment_not_confirmable", str(exc)) from None
    async with request.app[DB].acquire() as conn:
        ticket = await store.get(conn, ticket["id"])
    return web.json_response({"provider": provider.name, "label": provider.label,
                              "outcome": result, "ticket": ticket_json(ticket)})


@routes.get("/api/replays/{id}", name="replay_grant")
async def replay(request: web.Request) -> web.Response:
    """A replay grant for holders of a ticket with replay access (7 days after the event)."""
    principal = await require_user(request)
    return web.json_response(await replays.grant(request.app, principal,
                                                 validate.path_uuid(request)))


@routes.get("/api/live/{id}/sales", name="live_sales")
async def event_sales(request: web.Request) -> web.Response:
    """Sales and the revenue split of an event, for its artist (or an admin)."""
    principal = await require_user(request)
    return web.json_response(await sales.event_sales(request.app, principal,
                                                     validate.path_uuid(request)))
