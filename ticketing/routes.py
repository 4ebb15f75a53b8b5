"""HTTP routes of ticketing: purchase, tickets and codes, validation, refunds, webhooks,
replays, sales, tips and subscriptions."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server import api, validate
from server.accounts.auth import ensure_not_revoked, require_user, unchecked_user
from server.clientip import client_ip
from server.errors import ApiError, bad_request, conflict, not_found
from server.keys import CLOCK, DB
from ticketing import (
    orders,
    qr,
    refunds,
    replays,
    sales,
    store,
    subscriptions,
    tips,
    validation,
    webhooks,
)
from ticketing.errors import PROVIDER_ERROR, OrderError
from ticketing.keys import RUNTIME, TICKETING_CONFIG
from ticketing.models import (
    Admission,
    DevConfirmation,
    DevConfirmIn,
    PriceIn,
    PriceView,
    Purchase,
    PurchaseIn,
    QrCode,
    QrQuery,
    ReplayGrant,
    Sales,
    StripeEvent,
    SubscribeIn,
    SubscriptionList,
    SubscriptionView,
    Ticket,
    Tickets,
    TipHistory,
    TipIn,
    TipQuery,
    TipStarted,
    TipView,
    ValidateIn,
    WebhookReceipt,
)
from ticketing.payments import DevPaymentProvider, PaymentError
from ticketing.views import ticket_json

routes = web.RouteTableDef()
_IMAGE = {"type": "string", "format": "binary"}
# How ticketing's domain errors are answered; every other refusal is a 409 conflict.
ORDER_STATUS = {
    "not_found": 404,
    "forbidden": 403,
    "rate_limited": 429,
    "too_many_holds": 429,
    PROVIDER_ERROR: 502,
}


def order_error(exc: OrderError) -> ApiError:
    """The HTTP answer to a refused purchase, payment or refund."""
    extra = {} if exc.retry_after is None else {"retry_after": exc.retry_after}
    return ApiError(ORDER_STATUS.get(exc.code, 409), exc.code, exc.message, **extra)


@routes.post("/api/tickets/purchase", name="tickets_purchase")
@api.spec({200: Purchase, 201: Purchase}, body=PurchaseIn, tag="tickets")
async def purchase(request: web.Request) -> web.Response:
    """Hold a seat and start its payment; the client confirms the payment with the provider."""
    principal = await require_user(request)
    event_id = (await api.body(request, PurchaseIn)).event_id
    try:
        bought = await orders.purchase(request.app, principal, event_id, client_ip(request))
    except OrderError as exc:
        raise order_error(exc) from None
    return api.reply(bought.reply, Purchase, status=201 if bought.created else 200)


@routes.get("/api/tickets", name="tickets_mine")
@api.spec({200: Tickets}, tag="tickets")
async def mine(request: web.Request) -> web.Response:
    """The caller's tickets, newest first."""
    principal = await require_user(request)
    async with request.app[DB].acquire() as conn:
        rows = await store.list_for_user(conn, principal.user_id, 200)
    return api.reply({"tickets": [ticket_json(r) for r in rows]}, Tickets)


async def _own_ticket(request: web.Request) -> Any:
    principal = await require_user(request)
    ticket_id = validate.path_uuid(request)
    async with request.app[DB].acquire() as conn:
        ticket = await store.get(conn, ticket_id)
    if ticket is None or (ticket["user_id"] != principal.user_id and not principal.is_admin):
        raise not_found("ticket")
    return ticket


@routes.get("/api/tickets/{id}", name="tickets_get")
@api.spec({200: Ticket}, tag="tickets")
async def get(request: web.Request) -> web.Response:
    """One of the caller's tickets."""
    return api.reply(ticket_json(await _own_ticket(request)), Ticket)


@routes.get("/api/tickets/{id}/qr", name="tickets_qr")
@api.spec(
    {200: (api.Media("image/png", _IMAGE), api.Media("image/svg+xml"), QrCode)},
    query=QrQuery,
    tag="tickets",
)
async def qr_code(request: web.Request) -> web.Response:
    """A fresh signed code for a paid ticket, as PNG (default), SVG or JSON (?format=)."""
    ticket = await _own_ticket(request)
    fmt = api.query(request, QrQuery).format
    if ticket["status"] != "paid":
        raise conflict(
            "only a paid ticket has a code",
            "unpaid" if ticket["status"] == "reserved" else "cancelled",
        )
    cfg = request.app[TICKETING_CONFIG]
    now = int(request.app[CLOCK].time())
    code = qr.sign(cfg.qr_key, ticket["id"], ticket["event_id"], now, now + cfg.qr_ttl)
    if fmt is None:
        accept = request.headers.get("Accept", "")
        fmt = (
            "svg"
            if "image/svg+xml" in accept
            else "json"
            if "application/json" in accept
            else "png"
        )
    headers = {"Cache-Control": "no-store", "X-Code-Expires-At": str(now + cfg.qr_ttl)}
    if fmt == "png":
        return web.Response(body=qr.render_png(code), content_type="image/png", headers=headers)
    if fmt == "svg":
        return web.Response(body=qr.render_svg(code), content_type="image/svg+xml", headers=headers)
    return api.reply(
        QrCode(
            code=code,
            not_before=now,
            expires_at=now + cfg.qr_ttl,
            refresh_in=max(cfg.qr_ttl - 60, cfg.qr_ttl // 2),
        ),
        headers=headers,
    )


@routes.post("/api/tickets/validate", name="tickets_validate")
@api.spec({200: Admission}, body=ValidateIn, tag="tickets")
async def validate_code(request: web.Request) -> web.Response:
    """Admit a ticket by its code: a playback grant and chat access, or a reasoned 4xx."""
    # The token's revocation is checked with validation's first Redis call; every refusal
    # made before that call checks it first, so a revoked token is always answered 401.
    principal = unchecked_user(request)
    try:
        body = await api.body(request, ValidateIn)
    except ApiError:
        await ensure_not_revoked(request.app, principal)
        raise
    code = body.code.strip()
    if not code:
        await ensure_not_revoked(request.app, principal)
        raise validation.rejected("invalid", "code is required")
    return api.reply(
        await validation.validate(request.app, principal, code, client_ip(request), body.event_id),
        Admission,
    )


@routes.post("/api/tickets/{id}/reenter", name="tickets_reenter")
@api.spec({200: Admission}, tag="tickets")
async def reenter(request: web.Request) -> web.Response:
    """The owner moves an admitted ticket's viewing session to this device."""
    principal = await require_user(request)
    return api.reply(
        await validation.reenter(
            request.app, principal, validate.path_uuid(request), client_ip(request)
        ),
        Admission,
    )


@routes.post("/api/tickets/{id}/refund", name="tickets_refund")
@api.spec({200: Ticket}, tag="tickets")
async def refund(request: web.Request) -> web.Response:
    """An admin or the event's artist refunds a paid ticket."""
    principal = await require_user(request)
    try:
        ticket = await refunds.refund(request.app, principal, validate.path_uuid(request))
    except OrderError as exc:
        raise order_error(exc) from None
    return api.reply(ticket, Ticket)


@routes.post("/api/payments/stripe/webhook", name="stripe_webhook")
@api.spec(
    {200: WebhookReceipt},
    body=StripeEvent,
    public=True,
    tag="payments",
    headers={"Stripe-Signature": {"type": "string", "maxLength": 1000}},
)
async def stripe_webhook(request: web.Request) -> web.Response:
    """Stripe's notifications (signature-verified; objects re-fetched before acting)."""
    # Read raw: the signature covers the exact bytes Stripe sent.
    payload = await request.read()
    return api.reply(
        await webhooks.handle(request.app, payload, request.headers.get("Stripe-Signature")),
        WebhookReceipt,
    )


@routes.post("/api/payments/dev/{payment}/confirm", name="dev_payment_confirm")
@api.spec(
    {200: DevConfirmation},
    body=DevConfirmIn,
    body_required=False,
    path={"payment": {"type": "string", "maxLength": 200}},
    tag="payments",
)
async def dev_confirm(request: web.Request) -> web.Response:
    """DEVELOPMENT PAYMENTS ONLY (no Stripe key configured): the buyer "pays" locally.

    Body (optional): {"outcome": "succeed" | "fail"} to try the declined-card path.
    """
    provider = request.app[RUNTIME].provider
    if not isinstance(provider, DevPaymentProvider):
        raise not_found("dev payment")
    principal = await require_user(request)
    payment_id = request.match_info["payment"]
    outcome = (await api.body(request, DevConfirmIn)).outcome
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
    return api.reply(
        {
            "provider": provider.name,
            "label": provider.label,
            "outcome": result,
            "ticket": ticket_json(ticket),
        },
        DevConfirmation,
    )


@routes.get("/api/replays/{id}", name="replay_grant")
@api.spec({200: ReplayGrant}, tag="replays")
async def replay(request: web.Request) -> web.Response:
    """A replay grant for holders of a ticket with replay access (7 days after the event)."""
    principal = await require_user(request)
    return api.reply(
        await replays.grant(request.app, principal, validate.path_uuid(request)), ReplayGrant
    )


@routes.get("/api/live/{id}/sales", name="live_sales")
@api.spec({200: Sales}, tag="tickets")
async def event_sales(request: web.Request) -> web.Response:
    """Sales and the revenue split of an event, for its artist (or an admin)."""
    principal = await require_user(request)
    return api.reply(
        await sales.event_sales(request.app, principal, validate.path_uuid(request)), Sales
    )


# --- tips and subscriptions ---------------------------------------------------------------


@routes.post("/api/tips", name="tips_create")
@api.spec({201: TipStarted}, body=TipIn, tag="tips")
async def tip(request: web.Request) -> web.Response:
    """Tip an artist: starts a payment the client confirms (dev payments settle at once)."""
    principal = await require_user(request)
    body = await api.body(request, TipIn)
    try:
        started = await tips.create(
            request.app,
            principal,
            artist_id=body.artist_id,
            amount=body.amount,
            currency=body.currency,
            video_id=body.video_id,
            event_id=body.event_id,
            message=body.message,
        )
    except OrderError as exc:
        raise order_error(exc) from None
    return api.reply(started, TipStarted, status=201)


@routes.get("/api/tips", name="tips_mine")
@api.spec({200: TipHistory}, query=TipQuery, tag="tips")
async def my_tips(request: web.Request) -> web.Response:
    """The caller's tips, newest first (`next` is the `before` of the following page)."""
    principal = await require_user(request)
    query = api.query(request, TipQuery)
    before = None
    if query.before is not None:
        try:
            before = tips.parse_cursor(query.before)
        except (ValueError, OverflowError, OSError):
            raise bad_request(
                "before must be a cursor from a previous page", "invalid_cursor"
            ) from None
    async with request.app[DB].acquire() as conn:
        rows = await tips.history(conn, principal.user_id, query.limit, before)
    items = [tips.tip_json(r) for r in rows]
    more = len(rows) == query.limit
    return api.reply({"tips": items, "next": tips.cursor(rows[-1]) if more else None}, TipHistory)


@routes.post("/api/tips/{id}/refund", name="tips_refund")
@api.spec({200: TipView}, tag="tips")
async def refund_tip(request: web.Request) -> web.Response:
    """An admin or the tipped artist refunds a paid tip; its ledger postings are reversed."""
    principal = await require_user(request)
    try:
        row = await tips.refund(request.app, principal, validate.path_uuid(request))
    except OrderError as exc:
        raise order_error(exc) from None
    return api.reply(row, TipView)


@routes.put("/api/artists/me/subscription-price", name="subscription_price")
@api.spec({200: PriceView}, body=PriceIn, tag="subscriptions")
async def subscription_price(request: web.Request) -> web.Response:
    """The artist's monthly price for new subscribers (running ones keep theirs)."""
    principal = await require_user(request)
    body = await api.body(request, PriceIn)
    return api.reply(
        await subscriptions.set_price(request.app, principal, body.amount, body.currency),
        PriceView,
    )


@routes.post("/api/subscriptions", name="subscriptions_create")
@api.spec({201: SubscriptionView}, body=SubscribeIn, tag="subscriptions")
async def subscribe(request: web.Request) -> web.Response:
    """Subscribe monthly to an artist at their price."""
    principal = await require_user(request)
    body = await api.body(request, SubscribeIn)
    try:
        sub = await subscriptions.subscribe(
            request.app, principal, body.artist_id, body.payment_method
        )
    except OrderError as exc:
        raise order_error(exc) from None
    return api.reply(sub, SubscriptionView, status=201)


@routes.get("/api/subscriptions", name="subscriptions_mine")
@api.spec({200: SubscriptionList}, tag="subscriptions")
async def my_subscriptions(request: web.Request) -> web.Response:
    """The caller's subscriptions, newest first."""
    principal = await require_user(request)
    return api.reply(
        {"subscriptions": await subscriptions.mine(request.app, principal)}, SubscriptionList
    )


@routes.delete("/api/subscriptions/{id}", name="subscriptions_cancel")
@api.spec({200: SubscriptionView}, tag="subscriptions")
async def cancel_subscription(request: web.Request) -> web.Response:
    """Cancel at the end of the paid period: access lasts until then."""
    principal = await require_user(request)
    try:
        sub = await subscriptions.cancel(request.app, principal, validate.path_uuid(request))
    except OrderError as exc:
        raise order_error(exc) from None
    return api.reply(sub, SubscriptionView)
