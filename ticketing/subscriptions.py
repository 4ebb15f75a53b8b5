"""Monthly subscriptions of fans to artists, billed through Stripe Billing (or locally).

With Stripe, a fan is a Customer, an artist's price a monthly Plan, a subscription a
Subscription whose Invoices Stripe charges each month. What the app does follows from the
objects as Stripe returns them (webhooks only say which changed): each paid invoice posts to
the ledger like a tip, once, and moves the subscriber's access to the end of the period it
paid for; a failed renewal moves nothing, so access ends at the period's end; a cancellation
takes effect at the period's end. The development provider bills locally: a subscription is
paid at once for a month. This module owns the subscription tables.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import stripe
from aiohttp import web

import ledger
from server import audit, jobs
from server.accounts.service import find_account
from server.accounts.tokens import Principal
from server.errors import ApiError, conflict, not_found
from server.jobs.registry import every
from server.keys import CLOCK, DB
from server.wire import timestamp_or_none
from ticketing.errors import PROVIDER_ERROR, OrderError
from ticketing.keys import RUNTIME, TICKETING_CONFIG
from ticketing.payments import PaymentError, StripeProvider
from ticketing.tips import split_tip

log = logging.getLogger(__name__)

LIVE = ("incomplete", "active", "past_due")
DEV_PERIOD = timedelta(days=30)
_COLUMNS = """id, fan_id, artist_id, amount_minor, currency, provider, provider_ref, status,
    cancel_at_period_end, current_period_end, access_until, created_at, canceled_at"""


@dataclass(frozen=True)
class BillingSubscription:
    """A subscription as the billing provider reports it."""

    id: str
    status: str
    cancel_at_period_end: bool
    current_period_end: datetime | None


@dataclass(frozen=True)
class BillingInvoice:
    """An invoice as the billing provider reports it."""

    id: str
    subscription_id: str | None
    paid: bool
    amount_paid: int
    currency: str
    period_end: datetime | None
    payment_id: str | None = None


def invoice_posting_id(invoice_ref: str) -> uuid.UUID:
    """The id an invoice's ledger posting is made under (and reversed by)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"mhc-invoice:{invoice_ref}")


def _when(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(int(value), UTC)


def _sub(obj: Any) -> BillingSubscription:
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    end = data.get("current_period_end")
    if end is None:  # newer API versions keep the period on the items
        items = (data.get("items") or {}).get("data") or [{}]
        end = items[0].get("current_period_end")
    return BillingSubscription(
        data["id"],
        str(data.get("status")),
        bool(data.get("cancel_at_period_end")),
        _when(end),
    )


def _invoice(obj: Any) -> BillingInvoice:
    data = obj.to_dict()
    sub = data.get("subscription")
    if sub is None:
        parent = data.get("parent") or {}
        sub = (parent.get("subscription_details") or {}).get("subscription")
    if isinstance(sub, dict):
        sub = sub.get("id")
    payment = data.get("payment_intent")
    if isinstance(payment, dict):
        payment = payment.get("id")
    lines = (data.get("lines") or {}).get("data") or []
    period_end = (lines[0].get("period") or {}).get("end") if lines else None
    return BillingInvoice(
        data["id"],
        sub,
        data.get("status") == "paid",
        int(data.get("amount_paid") or 0),
        str(data.get("currency") or "").upper(),
        _when(period_end or data.get("period_end")),
        payment,
    )


def _stripe(app: web.Application) -> stripe.StripeClient | None:
    provider = app[RUNTIME].provider
    return provider.client if isinstance(provider, StripeProvider) else None


async def _call(coro: Any) -> Any:
    try:
        return await coro
    except stripe.StripeError as exc:
        raise PaymentError(f"stripe: {exc.user_message or exc}") from None


# --- tables -------------------------------------------------------------------------------


async def _price(conn: asyncpg.Connection, artist_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT artist_id, amount_minor, currency, plan_ref FROM subscription_prices"
        " WHERE artist_id = $1",
        artist_id,
    )


async def get(conn: asyncpg.Connection, sub_id: uuid.UUID) -> asyncpg.Record | None:
    """One subscription."""
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM subscriptions WHERE id = $1", sub_id)


async def _by_ref(conn: asyncpg.Connection, ref: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM subscriptions WHERE provider_ref = $1", ref)


async def is_subscriber(
    conn: asyncpg.Connection, fan_id: uuid.UUID, artist_id: uuid.UUID, *, at: datetime | None = None
) -> bool:
    """True while the fan has paid access to the artist (until the current period's end)."""
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM subscriptions
                              WHERE fan_id = $1 AND artist_id = $2
                                AND access_until > coalesce($3::timestamptz, now()))""",
            fan_id,
            artist_id,
            at,
        )
    )


async def sums_by_bucket(
    conn: asyncpg.Connection, artist_id: uuid.UUID, start: datetime, end: datetime, bucket: str
) -> list[asyncpg.Record]:
    """Paid invoices of an artist's subscribers per bucket and currency."""
    return list(
        await conn.fetch(
            """SELECT date_trunc($4, paid_at, 'UTC') AS start, currency,
                      count(*) AS count, sum(amount_minor) AS amount
               FROM subscription_invoices
               WHERE artist_id = $1 AND paid_at >= $2 AND paid_at < $3
                 AND refunded_at IS NULL
               GROUP BY 1, 2 ORDER BY 1, 2""",
            artist_id,
            start,
            end,
            bucket,
        )
    )


def sub_json(row: Any, now: datetime) -> dict[str, Any]:
    """A subscription as the API shows it."""

    return {
        "id": str(row["id"]),
        "artist_id": str(row["artist_id"]),
        "amount": row["amount_minor"],
        "currency": row["currency"].strip(),
        "provider": row["provider"],
        "status": row["status"],
        "cancel_at_period_end": row["cancel_at_period_end"],
        "current_period_end": timestamp_or_none(row["current_period_end"]),
        "access_until": timestamp_or_none(row["access_until"]),
        "has_access": row["access_until"] is not None and row["access_until"] > now,
        "created_at": timestamp_or_none(row["created_at"]),
    }


# --- the artist's price ---------------------------------------------------------------------


async def set_price(
    app: web.Application, principal: Principal, amount: int, currency: str
) -> dict[str, Any]:
    """The artist's monthly price for new subscribers."""
    cfg = app[TICKETING_CONFIG]
    if principal.role != "artist":
        raise ApiError(403, "forbidden", "only artists set a subscription price")
    if currency not in cfg.currencies:
        raise ApiError(
            400, "invalid_currency", f"currency must be one of {', '.join(cfg.currencies)}"
        )
    if not cfg.subscription_min <= amount <= cfg.subscription_max:
        raise ApiError(
            400,
            "invalid_amount",
            f"a monthly price is between {cfg.subscription_min} and {cfg.subscription_max}"
            " minor units",
        )
    async with app[DB].acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO subscription_prices (artist_id, amount_minor, currency, updated_at)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (artist_id) DO UPDATE SET amount_minor = $2, currency = $3,
                   updated_at = $4,
                   plan_ref = CASE WHEN subscription_prices.amount_minor = $2
                                    AND subscription_prices.currency = $3
                                   THEN subscription_prices.plan_ref END""",
            principal.user_id,
            amount,
            currency,
            app[CLOCK].now(),
        )
        await audit.record(
            app,
            conn,
            "SUBSCRIPTION_PRICE_SET",
            actor=principal.user_id,
            subject=principal.user_id,
            amount=amount,
            currency=currency,
        )
    return {"artist_id": str(principal.user_id), "amount": amount, "currency": currency}


# --- subscribing --------------------------------------------------------------------------


async def _customer(app: web.Application, client: stripe.StripeClient, fan_id: uuid.UUID) -> str:
    async with app[DB].acquire() as conn:
        ref = await conn.fetchval(
            "SELECT customer_ref FROM billing_customers WHERE fan_id = $1 AND provider = 'stripe'",
            fan_id,
        )
    if ref is not None:
        return str(ref)
    customer = await _call(
        client.v1.customers.create_async(
            params={"metadata": {"fan_id": str(fan_id)}},
            options={"idempotency_key": f"mhc-customer-{fan_id}"},
        )
    )
    async with app[DB].acquire() as conn:
        await conn.execute(
            """INSERT INTO billing_customers (fan_id, provider, customer_ref)
               VALUES ($1, 'stripe', $2) ON CONFLICT DO NOTHING""",
            fan_id,
            customer.id,
        )
        ref = await conn.fetchval(
            "SELECT customer_ref FROM billing_customers WHERE fan_id = $1 AND provider = 'stripe'",
            fan_id,
        )
    return str(ref)


async def _plan(app: web.Application, client: stripe.StripeClient, price: Any) -> str:
    if price["plan_ref"] is not None:
        return str(price["plan_ref"])
    plan = await _call(
        client.v1.plans.create_async(
            params={
                "amount": price["amount_minor"],
                "currency": price["currency"].strip().lower(),
                "interval": "month",
                "product": {"name": f"Subscription to artist {price['artist_id']}"},
                "metadata": {"artist_id": str(price["artist_id"])},
            }
        )
    )
    async with app[DB].acquire() as conn:
        await conn.execute(
            """UPDATE subscription_prices SET plan_ref = $2
               WHERE artist_id = $1 AND amount_minor = $3 AND plan_ref IS NULL""",
            price["artist_id"],
            plan.id,
            price["amount_minor"],
        )
    return str(plan.id)


async def subscribe(
    app: web.Application,
    principal: Principal,
    artist_id: uuid.UUID,
    payment_method: str | None,
) -> dict[str, Any]:
    """Start a monthly subscription at the artist's price (Stripe charges the first month at
    once with the given payment method; the development provider pretends to)."""
    now = app[CLOCK].now()
    async with app[DB].acquire() as conn:
        artist = await find_account(conn, artist_id)
        if artist is None or artist.role != "artist":
            raise not_found("artist")
        if artist_id == principal.user_id:
            raise conflict("artists cannot subscribe to themselves", "own_subscription")
        price = await _price(conn, artist_id)
        if price is None:
            raise conflict("this artist offers no subscription", "no_subscription_price")
        live = await conn.fetchval(
            "SELECT id FROM subscriptions WHERE fan_id = $1 AND artist_id = $2"
            " AND status = ANY($3::text[])",
            principal.user_id,
            artist_id,
            list(LIVE),
        )
        if live is not None:
            raise conflict("you already subscribe to this artist", "already_subscribed")
    sub_id = uuid.uuid4()
    client = _stripe(app)
    currency = price["currency"].strip()
    try:
        if client is None:
            billed = BillingSubscription(
                "devsub_" + secrets.token_hex(12), "active", False, now + DEV_PERIOD
            )
        else:
            if payment_method is None:
                raise ApiError(
                    400, "invalid_field", "paymentMethod is required to subscribe with Stripe"
                )
            customer = await _customer(app, client, principal.user_id)
            await _call(
                client.v1.payment_methods.attach_async(
                    payment_method, params={"customer": customer}
                )
            )
            await _call(
                client.v1.customers.update_async(
                    customer,
                    params={"invoice_settings": {"default_payment_method": payment_method}},
                )
            )
            plan = await _plan(app, client, price)
            billed = _sub(
                await _call(
                    client.v1.subscriptions.create_async(
                        params={
                            "customer": customer,
                            "items": [{"plan": plan}],
                            "metadata": {
                                "subscription_id": str(sub_id),
                                "fan_id": str(principal.user_id),
                                "artist_id": str(artist_id),
                            },
                        },
                        options={"idempotency_key": f"mhc-subscription-{sub_id}"},
                    )
                )
            )
    except PaymentError as exc:
        log.warning("subscription of %s to %s refused: %s", principal.user_id, artist_id, exc)
        raise OrderError(
            PROVIDER_ERROR, f"the payment service refused the subscription: {exc}"
        ) from None
    status = {"active": "active", "past_due": "past_due", "trialing": "active"}.get(
        billed.status, "incomplete"
    )
    try:
        async with app[DB].acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""INSERT INTO subscriptions (id, fan_id, artist_id, amount_minor, currency,
                        provider, provider_ref, status, current_period_end, created_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {_COLUMNS}""",
                sub_id,
                principal.user_id,
                artist_id,
                price["amount_minor"],
                currency,
                app[RUNTIME].provider.name,
                billed.id,
                status,
                billed.current_period_end,
                now,
            )
            await audit.record(
                app,
                conn,
                "SUBSCRIPTION_STARTED",
                actor=principal.user_id,
                subject=sub_id,
                artist=str(artist_id),
                amount=price["amount_minor"],
                currency=currency,
            )
            if client is None:
                invoice = BillingInvoice(
                    "devin_" + secrets.token_hex(12),
                    billed.id,
                    True,
                    price["amount_minor"],
                    currency,
                    billed.current_period_end,
                )
                row = await _record_paid(app, conn, row, invoice) or row
    except asyncpg.UniqueViolationError:
        raise conflict("you already subscribe to this artist", "already_subscribed") from None
    return sub_json(row, app[CLOCK].now())


async def _record_paid(
    app: web.Application, conn: asyncpg.Connection, sub: Any, invoice: BillingInvoice
) -> asyncpg.Record | None:
    """Act on a paid invoice once: ledger posting and access to the period's end."""
    period_end = invoice.period_end or (app[CLOCK].now() + DEV_PERIOD)
    inserted = await conn.fetchval(
        """INSERT INTO subscription_invoices (invoice_ref, subscription_id, artist_id,
               amount_minor, currency, period_end, paid_at, payment_ref)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING
           RETURNING invoice_ref""",
        invoice.id,
        sub["id"],
        sub["artist_id"],
        invoice.amount_paid,
        invoice.currency,
        period_end,
        app[CLOCK].now(),
        invoice.payment_id,
    )
    if inserted is None:
        return None
    if invoice.amount_paid > 0:
        parts = split_tip(invoice.amount_paid, app[TICKETING_CONFIG].tip_platform_bps)
        await ledger.post_later(
            app,
            conn,
            ledger.tip(
                invoice_posting_id(invoice.id),
                sub["artist_id"],
                invoice.currency,
                invoice.amount_paid,
                sub["fan_id"],
                platform=parts.platform,
                processing=parts.processing,
                source=f"subscription:{sub['id']}",
            ),
        )
    await audit.record(
        app,
        conn,
        "SUBSCRIPTION_INVOICE_PAID",
        actor=sub["fan_id"],
        subject=sub["id"],
        invoice=invoice.id,
        amount=invoice.amount_paid,
        currency=invoice.currency,
    )
    return await conn.fetchrow(
        f"""UPDATE subscriptions SET
                access_until = greatest(coalesce(access_until, $2), $2),
                current_period_end = greatest(coalesce(current_period_end, $2), $2),
                status = CASE WHEN status = 'canceled' THEN status ELSE 'active' END
            WHERE id = $1 RETURNING {_COLUMNS}""",
        sub["id"],
        period_end,
    )


async def cancel(app: web.Application, principal: Principal, sub_id: uuid.UUID) -> dict[str, Any]:
    """The fan cancels at the period's end: access lasts until then, nothing more is charged."""
    async with app[DB].acquire() as conn:
        row = await get(conn, sub_id)
    if row is None or (row["fan_id"] != principal.user_id and not principal.is_admin):
        raise not_found("subscription")
    if row["status"] == "canceled":
        raise conflict("the subscription has ended", "already_canceled")
    client = _stripe(app)
    if client is not None and row["provider"] == "stripe" and not row["cancel_at_period_end"]:
        try:
            await _call(
                client.v1.subscriptions.update_async(
                    row["provider_ref"], params={"cancel_at_period_end": True}
                )
            )
        except PaymentError as exc:
            raise OrderError(PROVIDER_ERROR, f"the payment service is unavailable: {exc}") from None
    async with app[DB].acquire() as conn, conn.transaction():
        updated = await conn.fetchrow(
            f"""UPDATE subscriptions SET cancel_at_period_end = true,
                    status = CASE WHEN status = 'incomplete' THEN 'canceled' ELSE status END,
                    canceled_at = coalesce(canceled_at, $2)
                WHERE id = $1 RETURNING {_COLUMNS}""",
            sub_id,
            app[CLOCK].now(),
        )
        await audit.record(
            app, conn, "SUBSCRIPTION_CANCELLED", actor=principal.user_id, subject=sub_id
        )
    return sub_json(updated, app[CLOCK].now())


async def mine(app: web.Application, principal: Principal) -> list[dict[str, Any]]:
    """The fan's subscriptions, newest first."""
    async with app[DB].acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM subscriptions WHERE fan_id = $1"
            " ORDER BY created_at DESC LIMIT 500",
            principal.user_id,
        )
    now = app[CLOCK].now()
    return [sub_json(r, now) for r in rows]


# --- webhooks -----------------------------------------------------------------------------


async def on_invoice(app: web.Application, invoice_id: str) -> str:
    """An invoice changed: a paid one is recorded once; a failed renewal leaves access to run
    out at the end of the period already paid for."""
    client = _stripe(app)
    if client is None:
        return "ignored"
    invoice = _invoice(await _call(client.v1.invoices.retrieve_async(invoice_id)))
    if invoice.subscription_id is None:
        return "not_a_subscription"
    async with app[DB].acquire() as conn:
        sub = await _by_ref(conn, invoice.subscription_id)
        if sub is None:
            return "unknown_subscription"
        if invoice.paid:
            async with conn.transaction():
                done = await _record_paid(app, conn, sub, invoice)
            return "invoice_paid" if done is not None else "duplicate"
        changed = await conn.fetchval(
            """UPDATE subscriptions SET status = 'past_due'
               WHERE id = $1 AND status = 'active' RETURNING id""",
            sub["id"],
        )
    return "renewal_failed" if changed is not None else "ignored"


async def on_subscription(app: web.Application, provider_ref: str) -> str:
    """A subscription changed at the provider: follow its status and cancellation."""
    client = _stripe(app)
    if client is None:
        return "ignored"
    billed = _sub(await _call(client.v1.subscriptions.retrieve_async(provider_ref)))
    async with app[DB].acquire() as conn:
        sub = await _by_ref(conn, billed.id)
        if sub is None:
            return "unknown_subscription"
        if billed.status in ("canceled", "incomplete_expired", "unpaid"):
            # Ended at the provider (its period over, or cancelled there at once): access
            # ends now at the latest.
            await conn.execute(
                """UPDATE subscriptions SET status = 'canceled',
                       canceled_at = coalesce(canceled_at, $2),
                       access_until = least(access_until, $2)
                   WHERE id = $1""",
                sub["id"],
                app[CLOCK].now(),
            )
            return "canceled"
        await conn.execute(
            "UPDATE subscriptions SET cancel_at_period_end = $2 WHERE id = $1",
            sub["id"],
            billed.cancel_at_period_end,
        )
    return "updated"


async def on_refunded_payment(app: web.Application, payment_id: str, reason: str) -> str | None:
    """A paid invoice refunded (or charged back) at the provider: its posting is reversed and
    the access it bought ends now. None when the payment is no invoice of ours."""
    now = app[CLOCK].now()
    async with app[DB].acquire() as conn, conn.transaction():
        invoice = await conn.fetchrow(
            """SELECT invoice_ref, subscription_id, artist_id, amount_minor, currency, refunded_at
               FROM subscription_invoices WHERE payment_ref = $1 FOR UPDATE""",
            payment_id,
        )
        if invoice is None:
            return None
        if invoice["refunded_at"] is not None:
            return "duplicate"
        await conn.execute(
            "UPDATE subscription_invoices SET refunded_at = $2 WHERE invoice_ref = $1",
            invoice["invoice_ref"],
            now,
        )
        await conn.execute(
            "UPDATE subscriptions SET access_until = least(access_until, $2) WHERE id = $1",
            invoice["subscription_id"],
            now,
        )
        if invoice["amount_minor"] > 0:
            await ledger.tip_reversed(
                app,
                conn,
                ledger.TipReversal(
                    invoice_posting_id(invoice["invoice_ref"]),
                    invoice["artist_id"],
                    invoice["currency"].strip(),
                    "chargeback" if reason == "dispute_lost" else "refund",
                ),
            )
        await audit.record(
            app,
            conn,
            "SUBSCRIPTION_INVOICE_REFUNDED",
            subject=invoice["subscription_id"],
            invoice=invoice["invoice_ref"],
            reason=reason,
            amount=invoice["amount_minor"],
            currency=invoice["currency"].strip(),
        )
    return "refunded"


async def renew_due(app: web.Application, limit: int = 500) -> int:
    """The development provider's billing run: each subscription whose paid period is over is
    renewed for another period (paid at once), or ends if it was cancelled; returns how many
    were renewed."""
    now = app[CLOCK].now()
    async with app[DB].acquire() as conn:
        due = await conn.fetch(
            f"""SELECT {_COLUMNS} FROM subscriptions
                WHERE provider = 'dev' AND status = 'active' AND access_until <= $1
                ORDER BY access_until LIMIT $2""",
            now,
            limit,
        )
    renewed = 0
    for sub in due:
        async with app[DB].acquire() as conn, conn.transaction():
            if sub["cancel_at_period_end"]:
                await conn.execute(
                    """UPDATE subscriptions SET status = 'canceled'
                       WHERE id = $1 AND status = 'active'""",
                    sub["id"],
                )
                continue
            # Named by the period it pays for, so a run repeated (or raced) bills it once.
            invoice = BillingInvoice(
                f"devin_{sub['id']}_{int(sub['access_until'].timestamp())}",
                sub["provider_ref"],
                True,
                sub["amount_minor"],
                sub["currency"].strip(),
                sub["access_until"] + DEV_PERIOD,
            )
            if await _record_paid(app, conn, sub, invoice) is not None:
                renewed += 1
    return renewed


async def renew_job(app: web.Application) -> None:
    """The schedule: renew what is due (development payments only)."""
    await renew_due(app)


def setup(app: web.Application) -> None:
    """With development payments, renew subscriptions on a schedule (Stripe bills by itself)."""
    cfg = app[TICKETING_CONFIG]
    if cfg.provider == "dev":
        jobs.schedule(app, "ticketing.dev_renewals", every(cfg.sweep_seconds), renew_job)
