"""Subscriptions: the artist's price, Stripe Billing through localstripe (Customer, Plan,
Subscription, Invoice) with signed invoice webhooks, the dev provider, access until the
period's end, cancellation, a failed renewal, the ledger, and the money reports."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe

from server.keys import CLOCK, DB
from tests.conftest import Api
from tests.ledger.helpers import balance
from tests.streaming import until
from tests.ticketing.conftest import deliver, make_user, paid_event, refresh_token
from ticketing.reports import sales_by_bucket, tips_by_bucket
from ticketing.subscriptions import is_subscriber, renew_due
from ticketing.tips import split_tip


async def _priced_artist(api: Api, amount: int = 500) -> dict[str, Any]:
    artist = await make_user(api, "artist")
    status, body = await api.call(
        "PUT",
        "/api/artists/me/subscription-price",
        token=artist["access"],
        json={"amount": amount, "currency": "EUR"},
    )
    assert status == 200 and body["amount"] == amount, body
    return artist


async def _subscriber(api: Api, fan: dict[str, Any], artist: dict[str, Any]) -> bool:
    async with api.app[DB].acquire() as conn:
        return await is_subscriber(conn, fan["id"], artist["id"])


async def test_dev_subscription_is_paid_at_once_and_cancels_at_period_end(dapi: Api) -> None:
    artist, fan = await _priced_artist(dapi), await make_user(dapi)
    assert not await _subscriber(dapi, fan, artist)
    status, sub = await dapi.call(
        "POST", "/api/subscriptions", token=fan["access"], json={"artistId": str(artist["id"])}
    )
    assert status == 201, sub
    assert sub["status"] == "active" and sub["has_access"] and sub["amount"] == 500
    assert await _subscriber(dapi, fan, artist)
    share = split_tip(500, 1000).artist

    async def posted() -> bool:
        return (await balance(dapi.app, artist["id"])).available == share

    await until(posted, 30, "the invoice's posting")
    status, again = await dapi.call(
        "POST", "/api/subscriptions", token=fan["access"], json={"artistId": str(artist["id"])}
    )
    assert (status, again["error"]["code"]) == (409, "already_subscribed")
    status, cancelled = await dapi.call(
        "DELETE", f"/api/subscriptions/{sub['id']}", token=fan["access"]
    )
    assert status == 200 and cancelled["cancel_at_period_end"] is True
    assert cancelled["has_access"] is True
    end = datetime.fromisoformat(cancelled["access_until"])
    async with dapi.app[DB].acquire() as conn:
        assert await is_subscriber(conn, fan["id"], artist["id"], at=end - timedelta(minutes=1))
        assert not await is_subscriber(conn, fan["id"], artist["id"], at=end)
    status, mine = await dapi.call("GET", "/api/subscriptions", token=fan["access"])
    assert status == 200 and [s["id"] for s in mine["subscriptions"]] == [sub["id"]]
    # Someone else can neither see nor cancel it.
    other = await make_user(dapi)
    status, _ = await dapi.call("DELETE", f"/api/subscriptions/{sub['id']}", token=other["access"])
    assert status == 404
    _, theirs = await dapi.call("GET", "/api/subscriptions", token=other["access"])
    assert theirs["subscriptions"] == []


async def test_concurrent_subscribes_make_one_subscription(dapi: Api) -> None:
    artist, fan = await _priced_artist(dapi), await make_user(dapi)
    results = await asyncio.gather(
        *(
            dapi.call(
                "POST",
                "/api/subscriptions",
                token=fan["access"],
                json={"artistId": str(artist["id"])},
            )
            for _ in range(5)
        )
    )
    assert sorted(s for s, _ in results) == [201, 409, 409, 409, 409], results


async def test_stripe_billing_invoice_webhooks_post_once_and_a_failed_renewal_ends_access(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await _priced_artist(tapi, 900), await make_user(tapi)
    status, sub = await tapi.call(
        "POST",
        "/api/subscriptions",
        token=fan["access"],
        json={"artistId": str(artist["id"]), "paymentMethod": "pm_card_visa"},
    )
    assert status == 201, sub
    assert sub["provider"] == "stripe" and sub["has_access"] is False  # until the invoice
    async with tapi.app[DB].acquire() as conn:
        ref = await conn.fetchval(
            "SELECT provider_ref FROM subscriptions WHERE id = $1", uuid.UUID(sub["id"])
        )
    billed = (await stripe_client.v1.subscriptions.retrieve_async(ref)).to_dict()
    invoice_id = billed["latest_invoice"]
    invoice_id = invoice_id if isinstance(invoice_id, str) else invoice_id["id"]
    obj = {"id": invoice_id, "object": "invoice"}
    results = await asyncio.gather(
        deliver(tapi, "invoice.paid", obj),
        deliver(tapi, "invoice.payment_succeeded", obj),
        deliver(tapi, "invoice.paid", obj),
    )
    outcomes = sorted(body.get("outcome", "") for status, body in results if status == 200)
    assert outcomes.count("invoice_paid") == 1, results
    assert await _subscriber(tapi, fan, artist)
    share = split_tip(900, 1000).artist

    async def posted() -> bool:
        return (await balance(tapi.app, artist["id"])).available == share

    await until(posted, 30, "the invoice's posting")
    _, mine = await tapi.call("GET", "/api/subscriptions", token=fan["access"])
    paid_until = datetime.fromisoformat(mine["subscriptions"][0]["access_until"])
    # The renewal fails: the card now declines.
    customer = billed["customer"]
    await stripe_client.v1.payment_methods.attach_async(
        "pm_card_chargeCustomerFail", params={"customer": customer}
    )
    await stripe_client.v1.customers.update_async(
        customer,
        params={"invoice_settings": {"default_payment_method": "pm_card_chargeCustomerFail"}},
    )
    renewal = await stripe_client.v1.invoices.create_async(
        params={"customer": customer, "subscription": ref}
    )
    with contextlib.suppress(stripe.StripeError):  # declined, as intended
        await stripe_client.v1.invoices.pay_async(renewal.id)
    status, hook = await deliver(
        tapi, "invoice.payment_failed", {"id": renewal.id, "object": "invoice"}
    )
    assert status == 200 and hook["outcome"] == "renewal_failed", hook
    _, mine = await tapi.call("GET", "/api/subscriptions", token=fan["access"])
    assert mine["subscriptions"][0]["status"] == "past_due"
    assert datetime.fromisoformat(mine["subscriptions"][0]["access_until"]) == paid_until
    async with tapi.app[DB].acquire() as conn:
        assert await is_subscriber(
            conn, fan["id"], artist["id"], at=paid_until - timedelta(seconds=1)
        )
        assert not await is_subscriber(conn, fan["id"], artist["id"], at=paid_until)
    # Cancelling tells Stripe to stop at the period's end.
    status, cancelled = await tapi.call(
        "DELETE", f"/api/subscriptions/{sub['id']}", token=fan["access"]
    )
    assert status == 200 and cancelled["cancel_at_period_end"] is True
    billed = (await stripe_client.v1.subscriptions.retrieve_async(ref)).to_dict()
    assert billed["cancel_at_period_end"] is True
    # The money reports count the paid invoice as the artist's tip-like income.
    now = datetime.now(UTC)
    async with tapi.app[DB].acquire() as conn:
        buckets = await tips_by_bucket(
            conn, artist["id"], now - timedelta(days=2), now + timedelta(days=1), "day"
        )
    assert [(b.count, b.amount, b.currency) for b in buckets] == [(1, 900, "EUR")]


async def test_stripe_subscription_without_a_payment_method_is_refused(tapi: Api) -> None:
    artist, fan = await _priced_artist(tapi), await make_user(tapi)
    status, body = await tapi.call(
        "POST", "/api/subscriptions", token=fan["access"], json={"artistId": str(artist["id"])}
    )
    assert status == 400, body
    _, mine = await tapi.call("GET", "/api/subscriptions", token=fan["access"])
    assert mine["subscriptions"] == []


@pytest.mark.parametrize(
    "body,code",
    [
        ({"amount": 0, "currency": "EUR"}, 400),
        ({"amount": 99, "currency": "EUR"}, 400),
        ({"amount": 10_001, "currency": "EUR"}, 400),
        ({"amount": 500, "currency": "JPY"}, 400),
        ({"amount": 500}, 400),
        ({"amount": "500", "currency": "EUR"}, 400),
        ({"amount": 500, "currency": "EUR", "x": 1}, 400),
    ],
)
async def test_bad_prices_are_refused(dapi: Api, body: dict[str, Any], code: int) -> None:
    artist = await make_user(dapi, "artist")
    status, reply = await dapi.call(
        "PUT", "/api/artists/me/subscription-price", token=artist["access"], json=body
    )
    assert status == code, reply
    fan = await make_user(dapi)
    status, reply = await dapi.call(
        "POST", "/api/subscriptions", token=fan["access"], json={"artistId": str(artist["id"])}
    )
    assert (status, reply["error"]["code"]) == (409, "no_subscription_price")


async def test_bad_subscribes_are_refused(dapi: Api) -> None:
    artist, fan = await _priced_artist(dapi), await make_user(dapi)
    status, _ = await dapi.call(
        "PUT",
        "/api/artists/me/subscription-price",
        token=fan["access"],
        json={"amount": 500, "currency": "EUR"},
    )
    assert status == 403
    for body, code in [
        ({}, 400),
        ({"artistId": "x"}, 400),
        ({"artistId": str(uuid.uuid4())}, 404),
        ({"artistId": str(fan["id"])}, 404),
        ({"artistId": str(artist["id"]), "extra": 1}, 400),
    ]:
        status, reply = await dapi.call(
            "POST", "/api/subscriptions", token=fan["access"], json=body
        )
        assert status == code, (body, reply)
    status, reply = await dapi.call(
        "POST", "/api/subscriptions", token=artist["access"], json={"artistId": str(artist["id"])}
    )
    assert (status, reply["error"]["code"]) == (409, "own_subscription")
    for bad in ("x", str(uuid.uuid4())):
        status, _ = await dapi.call("DELETE", f"/api/subscriptions/{bad}", token=fan["access"])
        assert status in (400, 404)
    _, mine = await dapi.call("GET", "/api/subscriptions", token=fan["access"])
    assert mine["subscriptions"] == []


async def test_reports_bucket_tips_and_sales(dapi: Api) -> None:
    artist, fan = await make_user(dapi, "artist"), await make_user(dapi)
    for amount in (300, 700):
        status, _ = await dapi.call(
            "POST",
            "/api/tips",
            token=fan["access"],
            json={"artistId": str(artist["id"]), "amount": amount, "currency": "EUR"},
        )
        assert status == 201
    now = datetime.now(UTC)
    async with dapi.app[DB].acquire() as conn:
        day = await tips_by_bucket(
            conn, artist["id"], now - timedelta(days=1), now + timedelta(days=1), "day"
        )
        week = await tips_by_bucket(
            conn, artist["id"], now - timedelta(days=30), now + timedelta(days=1), "week"
        )
        none = await tips_by_bucket(
            conn, artist["id"], now - timedelta(days=30), now - timedelta(days=2), "day"
        )
        sales = await sales_by_bucket(
            conn, artist["id"], now - timedelta(days=1), now + timedelta(days=1), "day"
        )
        with pytest.raises(ValueError):
            await tips_by_bucket(conn, artist["id"], now, now, "month")  # type: ignore[arg-type]
    assert [(b.count, b.amount, b.currency) for b in day] == [(2, 1000, "EUR")]
    assert day[0].start == now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert [(b.count, b.amount) for b in week] == [(2, 1000)]
    assert week[0].start.weekday() == 0
    assert none == [] and sales == []


async def test_sales_report_counts_kept_sales_of_the_artist(dapi: Api) -> None:
    artist, other_artist = await make_user(dapi, "artist"), await make_user(dapi, "artist")
    fans = [await make_user(dapi) for _ in range(3)]
    events = [await paid_event(dapi, artist, price=2999), await paid_event(dapi, other_artist)]
    tickets = []
    for fan, event in ((fans[0], events[0]), (fans[1], events[0]), (fans[2], events[1])):
        status, body = await dapi.call(
            "POST", "/api/tickets/purchase", token=fan["access"], json={"event_id": event["id"]}
        )
        assert status == 201, body
        status, done = await dapi.call("POST", body["payment"]["confirm_url"], token=fan["access"])
        assert status == 200 and done["outcome"] == "issued", done
        tickets.append(done["ticket"]["id"])
    status, _ = await dapi.call("POST", f"/api/tickets/{tickets[1]}/refund", token=artist["access"])
    assert status == 200
    now = datetime.now(UTC)
    async with dapi.app[DB].acquire() as conn:
        sales = await sales_by_bucket(
            conn, artist["id"], now - timedelta(days=1), now + timedelta(days=1), "day"
        )
        others = await sales_by_bucket(
            conn, other_artist["id"], now - timedelta(days=1), now + timedelta(days=1), "week"
        )
    assert [(b.count, b.amount, b.currency) for b in sales] == [(1, 2999, "EUR")]
    assert [(b.count, b.amount) for b in others] == [(1, 299)]


async def test_a_subscription_ended_at_stripe_is_followed(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await _priced_artist(tapi), await make_user(tapi)
    status, sub = await tapi.call(
        "POST",
        "/api/subscriptions",
        token=fan["access"],
        json={"artistId": str(artist["id"]), "paymentMethod": "pm_card_visa"},
    )
    assert status == 201, sub
    async with tapi.app[DB].acquire() as conn:
        ref = await conn.fetchval(
            "SELECT provider_ref FROM subscriptions WHERE id = $1", uuid.UUID(sub["id"])
        )
    billed = (await stripe_client.v1.subscriptions.retrieve_async(ref)).to_dict()
    invoice = billed["latest_invoice"]
    invoice = invoice if isinstance(invoice, str) else invoice["id"]
    status, hook = await deliver(tapi, "invoice.paid", {"id": invoice, "object": "invoice"})
    assert status == 200 and hook["outcome"] == "invoice_paid", hook
    assert await _subscriber(tapi, fan, artist)
    await stripe_client.v1.subscriptions.cancel_async(ref)
    status, hook = await deliver(
        tapi, "customer.subscription.deleted", {"id": ref, "object": "subscription"}
    )
    assert status == 200 and hook["outcome"] == "canceled", hook
    _, mine = await tapi.call("GET", "/api/subscriptions", token=fan["access"])
    assert mine["subscriptions"][0]["status"] == "canceled"
    assert not await _subscriber(tapi, fan, artist)
    # Ended, the fan may subscribe again.
    status, again = await tapi.call(
        "POST",
        "/api/subscriptions",
        token=fan["access"],
        json={"artistId": str(artist["id"]), "paymentMethod": "pm_card_visa"},
    )
    assert status == 201, again


async def test_dev_billing_renews_each_period_and_ends_a_cancelled_one(dapi: Api) -> None:
    artist, fan, leaving = (
        await _priced_artist(dapi, 400),
        await make_user(dapi),
        await make_user(dapi),
    )
    subs = {}
    for who in (fan, leaving):
        status, subs[who["id"]] = await dapi.call(
            "POST", "/api/subscriptions", token=who["access"], json={"artistId": str(artist["id"])}
        )
        assert status == 201
    await dapi.call(
        "DELETE", f"/api/subscriptions/{subs[leaving['id']]['id']}", token=leaving["access"]
    )
    first_end = datetime.fromisoformat(subs[fan["id"]]["access_until"])
    clock = dapi.app[CLOCK]
    clock.advance(31 * 86400)
    fan, leaving = refresh_token(dapi, fan), refresh_token(dapi, leaving)
    try:
        renewed = await asyncio.gather(renew_due(dapi.app), renew_due(dapi.app))
        assert sum(renewed) >= 1
        async with dapi.app[DB].acquire() as conn:
            now = clock.now()
            assert await is_subscriber(conn, fan["id"], artist["id"], at=now)
            assert not await is_subscriber(conn, leaving["id"], artist["id"], at=now)
        _, mine = await dapi.call("GET", "/api/subscriptions", token=fan["access"])
        assert datetime.fromisoformat(mine["subscriptions"][0]["access_until"]) == (
            first_end + timedelta(days=30)
        )
        _, theirs = await dapi.call("GET", "/api/subscriptions", token=leaving["access"])
        assert theirs["subscriptions"][0]["status"] == "canceled"
        share = split_tip(400, 1000).artist

        async def posted() -> bool:
            # Two invoices of the staying fan, one of the leaving fan: each posted once.
            return (await balance(dapi.app, artist["id"])).available == 3 * share

        await until(posted, 30, "the renewal's posting")
    finally:
        clock.advance(-31 * 86400)


async def test_a_refunded_invoice_is_reversed_and_ends_access(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await _priced_artist(tapi, 800), await make_user(tapi)
    status, sub = await tapi.call(
        "POST",
        "/api/subscriptions",
        token=fan["access"],
        json={"artistId": str(artist["id"]), "paymentMethod": "pm_card_visa"},
    )
    assert status == 201, sub
    async with tapi.app[DB].acquire() as conn:
        ref = await conn.fetchval(
            "SELECT provider_ref FROM subscriptions WHERE id = $1", uuid.UUID(sub["id"])
        )
    billed = (await stripe_client.v1.subscriptions.retrieve_async(ref)).to_dict()
    invoice_id = billed["latest_invoice"]
    invoice_id = invoice_id if isinstance(invoice_id, str) else invoice_id["id"]
    await deliver(tapi, "invoice.paid", {"id": invoice_id, "object": "invoice"})
    share = split_tip(800, 1000).artist

    async def posted() -> bool:
        return (await balance(tapi.app, artist["id"])).available == share

    await until(posted, 30, "the invoice's posting")
    invoice = (await stripe_client.v1.invoices.retrieve_async(invoice_id)).to_dict()
    payment = invoice["payment_intent"]
    await stripe_client.v1.refunds.create_async(params={"payment_intent": payment})
    pi = (await stripe_client.v1.payment_intents.retrieve_async(payment)).to_dict()
    charge = (
        pi["latest_charge"] if isinstance(pi["latest_charge"], str) else pi["latest_charge"]["id"]
    )
    for expected in ("refunded", "duplicate"):
        status, hook = await deliver(tapi, "charge.refunded", {"id": charge, "object": "charge"})
        assert status == 200 and hook["outcome"] == expected, hook
    assert not await _subscriber(tapi, fan, artist)

    async def reversed_() -> bool:
        return (await balance(tapi.app, artist["id"])).available == 0

    await until(reversed_, 30, "the reversal")
