"""Purchases through Stripe (localstripe): holds, capacity, payments, webhooks, expiry."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import stripe

from server.clock import Clock
from server.keys import CONFIG, DB
from tests.conftest import Api
from tests.ticketing.conftest import (
    charge_id,
    deliver,
    make_fans,
    make_user,
    paid_event,
    pay,
    stripe_event,
)
from ticketing import orders, store


async def seats(api: Api, event_id: str) -> int:
    async with api.app[DB].acquire() as conn:
        return await store.held(conn, uuid.UUID(event_id))


async def tickets_of(api: Api, event_id: str) -> list[dict[str, Any]]:
    async with api.app[DB].acquire() as conn:
        rows = await conn.fetch(
            "SELECT status, close_reason FROM tickets WHERE event_id = $1", uuid.UUID(event_id)
        )
    return [dict(r) for r in rows]


async def test_purchase_pay_and_webhook_issue_a_ticket_with_its_split(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, price=299, capacity=10)
    fan = (await make_fans(tapi, 1))[0]
    status, body = await tapi.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event["id"]}
    )
    assert status == 201, body
    assert body["ticket"]["status"] == "reserved" and body["ticket"]["price"] == 299
    assert body["payment"]["provider"] == "stripe"
    assert body["payment"]["id"].startswith("pi_") and body["payment"]["client_secret"]
    assert await seats(tapi, event["id"]) == 1
    pi = await stripe_client.v1.payment_intents.retrieve_async(body["payment"]["id"])
    assert pi.amount == 299 and pi.currency == "eur"
    assert pi.metadata.to_dict() == {"ticket_id": body["ticket"]["id"], "event_id": event["id"]}

    assert await pay(stripe_client, body["payment"]["id"]) == "succeeded"
    status, hook = await deliver(
        tapi, "payment_intent.succeeded", {"id": body["payment"]["id"], "object": "payment_intent"}
    )
    assert status == 200 and hook["outcome"] == "issued"
    status, ticket = await tapi.call(
        "GET", f"/api/tickets/{body['ticket']['id']}", token=fan["access"]
    )
    assert ticket["status"] == "valid" and ticket["paid_at"]
    status, mine = await tapi.call("GET", "/api/tickets", token=fan["access"])
    assert [t["id"] for t in mine["tickets"]] == [ticket["id"]]

    status, sales = await tapi.call("GET", f"/api/live/{event['id']}/sales", token=artist["access"])
    assert status == 200, sales
    assert sales["totals"] == [
        {
            "currency": "EUR",
            "sold": 1,
            "refunded": 0,
            "gross": 299,
            "artist": 241,
            "platform": 29,
            "processing": 29,
        }
    ]
    assert sales["sales"][0]["ticket_id"] == ticket["id"]
    assert sales["split_rule"]["remainder"] == "artist"
    status, _ = await tapi.call("GET", f"/api/live/{event['id']}/sales", token=fan["access"])
    assert status == 403
    other = await make_user(tapi)
    status, _ = await tapi.call("GET", f"/api/tickets/{ticket['id']}", token=other["access"])
    assert status == 404


async def test_200_concurrent_purchases_for_50_seats_sell_exactly_50(tapi: Api) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, price=9999, capacity=50)
    fans = await make_fans(tapi, 200)

    async def attempt(fan: dict[str, Any]) -> tuple[int, object]:
        return await tapi.call(
            "POST",
            "/api/tickets/purchase",
            token=str(fan["access"]),
            json={"streamId": event["id"]},
        )

    results = await asyncio.gather(*(attempt(f) for f in fans))
    codes = [s for s, _ in results]
    assert codes.count(201) == 50, codes
    assert codes.count(409) == 150
    assert all(b["error"]["code"] == "sold_out" for s, b in results if s == 409)  # type: ignore[index]
    assert await seats(tapi, event["id"]) == 50
    rows = await tickets_of(tapi, event["id"])
    assert len(rows) == 50 and all(r["status"] == "reserved" for r in rows)
    payment_ids = {b["payment"]["id"] for s, b in results if s == 201}  # type: ignore[index]
    assert len(payment_ids) == 50


async def test_one_ticket_per_user_per_event(tapi: Api, stripe_client: stripe.StripeClient) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, capacity=5)
    fan = (await make_fans(tapi, 1))[0]
    first = await tapi.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event["id"]}
    )
    again = await tapi.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event["id"]}
    )
    # A retry while the hold lasts returns the same hold and payment, and takes no seat.
    assert first[0] == 201 and again[0] == 200
    assert again[1]["ticket"]["id"] == first[1]["ticket"]["id"]
    assert again[1]["payment"]["id"] == first[1]["payment"]["id"]
    assert await seats(tapi, event["id"]) == 1
    await pay(stripe_client, first[1]["payment"]["id"])
    await deliver(tapi, "payment_intent.succeeded", {"id": first[1]["payment"]["id"]})
    status, body = await tapi.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event["id"]}
    )
    assert status == 409 and body["error"]["code"] == "already_has_ticket"
    assert await seats(tapi, event["id"]) == 1

    # Concurrent purchases by one user: one hold at most.
    fan2 = (await make_fans(tapi, 1))[0]
    results = await asyncio.gather(
        *(
            tapi.call(
                "POST",
                "/api/tickets/purchase",
                token=fan2["access"],
                json={"streamId": event["id"]},
            )
            for _ in range(5)
        )
    )
    assert sum(1 for s, _ in results if s == 201) == 1
    assert all(s in (200, 201, 409) for s, _ in results)
    assert await seats(tapi, event["id"]) == 2


async def test_refused_purchases_hold_nothing(tapi: Api) -> None:
    artist = await make_user(tapi, "artist")
    fan = (await make_fans(tapi, 1))[0]
    cancelled = await paid_event(tapi, artist)
    await tapi.call("POST", f"/api/live/{cancelled['id']}/cancel", token=artist["access"])
    free = await tapi.create_event(artist["access"], price=0)
    ended = await paid_event(tapi, artist)
    secret = tapi.app[CONFIG].hook_secret
    form = {"app": "live", "name": ended["stream_key"], "clientid": "9", "call": "publish"}
    async with tapi.session.post(
        f"{tapi.base_url}/hooks/rtmp/{secret}/publish", data=form, allow_redirects=False
    ) as resp:
        assert resp.status == 302
    async with tapi.session.post(
        f"{tapi.base_url}/hooks/rtmp/{secret}/publish_done", data={**form, "name": ended["id"]}
    ) as resp:
        assert resp.status == 204
    sold_out = await paid_event(tapi, artist, capacity=1)
    taker = (await make_fans(tapi, 1))[0]
    assert (
        await tapi.call(
            "POST",
            "/api/tickets/purchase",
            token=taker["access"],
            json={"streamId": sold_out["id"]},
        )
    )[0] == 201

    cases = [
        (cancelled["id"], 409, "event_cancelled"),
        (ended["id"], 409, "event_ended"),
        (free["id"], 409, "free_event"),
        (sold_out["id"], 409, "sold_out"),
        (str(uuid.uuid4()), 404, "not_found"),
        ("not-a-uuid", 400, "invalid_id"),
    ]
    for event_id, want_status, want_code in cases:
        status, body = await tapi.call(
            "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event_id}
        )
        assert (status, body["error"]["code"]) == (want_status, want_code), (event_id, body)
    status, body = await tapi.call("POST", "/api/tickets/purchase", json={"streamId": free["id"]})
    assert status == 401
    status, body = await tapi.call("POST", "/api/tickets/purchase", token=fan["access"], json={})
    assert status == 400
    status, mine = await tapi.call("GET", "/api/tickets", token=fan["access"])
    assert mine["tickets"] == []
    for event in (cancelled, ended, free):
        assert await seats(tapi, event["id"]) == 0
    assert await seats(tapi, sold_out["id"]) == 1


async def test_duplicate_and_reordered_webhooks_issue_one_ticket(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, capacity=3)
    fan = (await make_fans(tapi, 1))[0]
    status, body = await tapi.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event["id"]}
    )
    pi = {"id": body["payment"]["id"], "object": "payment_intent"}
    # "succeeded" arriving before the payment did: the re-fetch shows it pending, nothing issued.
    status, hook = await deliver(tapi, "payment_intent.succeeded", pi)
    assert status == 200 and hook["outcome"] == "pending"
    await pay(stripe_client, pi["id"])
    # The same event delivered three times, concurrently: processed once. A delivery that
    # overlaps the one being processed answers 409, so Stripe retries it (and then it is a
    # duplicate), rather than 200 for work that might yet fail.
    same = stripe_event("payment_intent.succeeded", pi)
    results = await asyncio.gather(*(deliver(tapi, "", {}, body=same) for _ in range(3)))
    assert sorted(s for s, _ in results) in ([200, 200, 200], [200, 200, 409], [200, 409, 409])
    assert [b.get("outcome") for s, b in results if s == 200].count("issued") == 1
    assert all(b.get("duplicate") or b.get("outcome") == "issued" for s, b in results if s == 200)
    assert all(b["error"]["code"] == "in_progress" for s, b in results if s == 409)
    status, hook = await deliver(tapi, "", {}, body=same)
    assert status == 200 and hook["duplicate"] is True
    # Another delivery of "succeeded" and a stale "payment_failed" after it: no change.
    status, hook = await deliver(tapi, "payment_intent.succeeded", pi)
    assert hook["outcome"] == "duplicate"
    status, hook = await deliver(tapi, "payment_intent.payment_failed", pi)
    assert hook["outcome"] == "duplicate"
    rows = await tickets_of(tapi, event["id"])
    assert [r["status"] for r in rows] == ["paid"]
    async with tapi.app[DB].acquire() as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM ticket_sales WHERE event_id = $1", uuid.UUID(event["id"])
            )
            == 1
        )


async def test_declined_payment_releases_the_seat(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, capacity=1)
    first, second = await make_fans(tapi, 2)
    status, body = await tapi.call(
        "POST", "/api/tickets/purchase", token=first["access"], json={"streamId": event["id"]}
    )
    status, refused = await tapi.call(
        "POST", "/api/tickets/purchase", token=second["access"], json={"streamId": event["id"]}
    )
    assert refused["error"]["code"] == "sold_out"
    assert (
        await pay(stripe_client, body["payment"]["id"], "pm_card_chargeCustomerFail")
        == "requires_payment_method"
    )
    status, hook = await deliver(
        tapi, "payment_intent.payment_failed", {"id": body["payment"]["id"]}
    )
    assert hook["outcome"] == "released"
    assert await seats(tapi, event["id"]) == 0
    status, _ = await tapi.call(
        "POST", "/api/tickets/purchase", token=second["access"], json={"streamId": event["id"]}
    )
    assert status == 201
    status, ticket = await tapi.call(
        "GET", f"/api/tickets/{body['ticket']['id']}", token=first["access"]
    )
    assert ticket["status"] == "released" and ticket["close_reason"] == "payment_failed"


async def test_holds_expire_and_release_their_seat(
    tapi: Api, tclock: Clock, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, capacity=1)
    first, second = await make_fans(tapi, 2)
    status, held = await tapi.call(
        "POST", "/api/tickets/purchase", token=first["access"], json={"streamId": event["id"]}
    )
    assert (
        await tapi.call(
            "POST", "/api/tickets/purchase", token=second["access"], json={"streamId": event["id"]}
        )
    )[0] == 409
    tclock.advance(15 * 60 + 1)
    assert await orders.expire_due(tapi.app) >= 1
    assert await seats(tapi, event["id"]) == 0
    pi = await stripe_client.v1.payment_intents.retrieve_async(held["payment"]["id"])
    assert pi.status == "canceled"
    status, body = await tapi.call(
        "POST", "/api/tickets/purchase", token=second["access"], json={"streamId": event["id"]}
    )
    assert status == 201
    # A purchase also frees holds that ran out before the sweeper got to them.
    third = (await make_fans(tapi, 1))[0]
    tclock.advance(15 * 60 + 1)
    status, body = await tapi.call(
        "POST", "/api/tickets/purchase", token=third["access"], json={"streamId": event["id"]}
    )
    assert status == 201, body
    assert await seats(tapi, event["id"]) == 1


async def test_payment_after_sold_out_is_refunded_not_kept(
    tapi: Api, tclock: Clock, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, capacity=1, price=2999)
    late, other = await make_fans(tapi, 2)
    status, body = await tapi.call(
        "POST", "/api/tickets/purchase", token=late["access"], json={"streamId": event["id"]}
    )
    # The buyer pays, but the notification is delayed past the hold; the seat goes to another.
    assert await pay(stripe_client, body["payment"]["id"]) == "succeeded"
    tclock.advance(15 * 60 + 1)
    status, _ = await tapi.call(
        "POST", "/api/tickets/purchase", token=other["access"], json={"streamId": event["id"]}
    )
    assert status == 201
    status, hook = await deliver(tapi, "payment_intent.succeeded", {"id": body["payment"]["id"]})
    assert status == 200 and hook["outcome"] == "refunded_sold_out"
    status, ticket = await tapi.call(
        "GET", f"/api/tickets/{body['ticket']['id']}", token=late["access"]
    )
    assert ticket["status"] == "refunded" and ticket["close_reason"] == "sold_out"
    pi = await stripe_client.v1.payment_intents.retrieve_async(body["payment"]["id"])
    charge = await stripe_client.v1.charges.retrieve_async(charge_id(pi))
    assert charge.amount_refunded == 2999
    assert await seats(tapi, event["id"]) == 1
    status, hook = await deliver(tapi, "payment_intent.succeeded", {"id": body["payment"]["id"]})
    assert hook["outcome"] == "duplicate"

    # Paid late, and the seat came free again meanwhile: the ticket is issued after all.
    event2 = await paid_event(tapi, artist, capacity=1)
    status, body2 = await tapi.call(
        "POST", "/api/tickets/purchase", token=late["access"], json={"streamId": event2["id"]}
    )
    await pay(stripe_client, body2["payment"]["id"])
    tclock.advance(15 * 60 + 1)
    status, other_hold = await tapi.call(
        "POST", "/api/tickets/purchase", token=other["access"], json={"streamId": event2["id"]}
    )
    assert status == 201
    await pay(stripe_client, other_hold["payment"]["id"], "pm_card_chargeCustomerFail")
    status, hook = await deliver(
        tapi, "payment_intent.payment_failed", {"id": other_hold["payment"]["id"]}
    )
    assert hook["outcome"] == "released"
    status, hook = await deliver(tapi, "payment_intent.succeeded", {"id": body2["payment"]["id"]})
    assert hook["outcome"] == "issued_late"
    assert await seats(tapi, event2["id"]) == 1


async def test_bad_webhooks_change_nothing(tapi: Api, stripe_client: stripe.StripeClient) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist)
    fan = (await make_fans(tapi, 1))[0]
    status, body = await tapi.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event["id"]}
    )
    await pay(stripe_client, body["payment"]["id"])
    obj = {"id": body["payment"]["id"], "object": "payment_intent"}
    payload = stripe_event(
        "payment_intent.succeeded", obj, "evt_reused_after_refusals_" + uuid.uuid4().hex[:8]
    )
    import time as _time

    cases = [
        ({"secret": "whsec_not_the_right_one"}, "bad_signature"),
        ({"timestamp": int(_time.time()) - 301}, "stale_timestamp"),
    ]
    for kwargs, code in cases:
        status, reply = await deliver(tapi, "", {}, body=payload, **kwargs)  # type: ignore[arg-type]
        assert (status, reply["error"]["code"]) == (400, code)
    status, reply = await tapi.call("POST", "/api/payments/stripe/webhook", data=payload.encode())
    assert (status, reply["error"]["code"]) == (400, "bad_signature")
    tampered = payload.replace("payment_intent.succeeded", "payment_intent.canceled")
    status, reply = await tapi.call(
        "POST",
        "/api/payments/stripe/webhook",
        data=tampered.encode(),
        headers={
            "Stripe-Signature": __import__("tests.ticketing.conftest", fromlist=["sign"]).sign(
                payload
            )
        },
    )
    assert (status, reply["error"]["code"]) == (400, "bad_signature")
    status, reply = await deliver(tapi, "customer.created", {"id": "cus_1"})
    assert (status, reply["error"]["code"]) == (400, "unsupported_event_type")
    status, reply = await deliver(tapi, "", {}, body="not json")
    assert (status, reply["error"]["code"]) == (400, "invalid_payload")
    status, ticket = await tapi.call(
        "GET", f"/api/tickets/{body['ticket']['id']}", token=fan["access"]
    )
    assert ticket["status"] == "reserved"
    # The refused deliveries left no trace: the genuine one is processed.
    status, hook = await deliver(tapi, "", {}, body=payload)
    assert status == 200 and hook["outcome"] == "issued"


async def test_cancelled_payment_is_spelled_cancelled(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, capacity=1)
    fan = (await make_fans(tapi, 1))[0]
    status, body = await tapi.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"event_id": event["id"]}
    )
    assert status == 201
    await stripe_client.v1.payment_intents.cancel_async(body["payment"]["id"])
    status, hook = await deliver(tapi, "payment_intent.canceled", {"id": body["payment"]["id"]})
    assert hook["outcome"] == "released"
    ticket_id = body["ticket"]["id"]
    status, ticket = await tapi.call("GET", f"/api/tickets/{ticket_id}", token=fan["access"])
    assert ticket["status"] == "released" and ticket["close_reason"] == "payment_cancelled"
    # Tickets closed before the spelling was settled read the same.
    async with tapi.app[DB].acquire() as conn:
        await conn.execute(
            "UPDATE tickets SET close_reason = 'payment_canceled' WHERE id = $1",
            uuid.UUID(ticket_id),
        )
    status, ticket = await tapi.call("GET", f"/api/tickets/{ticket_id}", token=fan["access"])
    assert ticket["close_reason"] == "payment_cancelled"
    # The paid-ticket code refuses a closed ticket with the same word.
    status, refused = await tapi.call(
        "GET", f"/api/tickets/{ticket_id}/qr?format=json", token=fan["access"]
    )
    assert status == 409 and refused["error"]["code"] == "cancelled"
