"""Settling payments against a changing world: cancelled events, early refunds, concurrency."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import stripe

from server.keys import DB
from tests.conftest import Api
from tests.streaming import until
from tests.ticketing.conftest import buy, charge_id, deliver, make_fans, make_user, paid_event, pay
from tests.ticketing.test_replays import hook as rtmp_hook
from ticketing import store, sweeper
from ticketing.keys import RUNTIME
from ticketing.payments import PaymentError


async def purchase(api: Api, fan: dict[str, Any], event_id: str) -> dict[str, Any]:
    status, body = await api.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event_id}
    )
    assert status == 201, body
    return body  # type: ignore[no-any-return]


async def ticket_of(api: Api, fan: dict[str, Any], ticket_id: str) -> dict[str, Any]:
    status, ticket = await api.call("GET", f"/api/tickets/{ticket_id}", token=fan["access"])
    assert status == 200, ticket
    return ticket  # type: ignore[no-any-return]


async def refunded_amount(stripe_client: stripe.StripeClient, payment_id: str) -> int:
    pi = await stripe_client.v1.payment_intents.retrieve_async(payment_id)
    charge = await stripe_client.v1.charges.retrieve_async(charge_id(pi))
    return int(charge.amount_refunded)


async def test_cancellation_releases_holds_and_refunds_payments_in_flight(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    paying, waiting = await make_fans(tapi, 2)
    event = await paid_event(tapi, artist, price=999, capacity=5)
    paid = await purchase(tapi, paying, event["id"])
    held = await purchase(tapi, waiting, event["id"])
    # The buyer's payment succeeds, but its webhook has not arrived when the event is cancelled.
    assert await pay(stripe_client, paid["payment"]["id"]) == "succeeded"
    status, _ = await tapi.call("POST", f"/api/live/{event['id']}/cancel", token=artist["access"])
    assert status == 200

    async def settled() -> bool:
        a = await ticket_of(tapi, paying, paid["ticket"]["id"])
        b = await ticket_of(tapi, waiting, held["ticket"]["id"])
        return a["status"] == "refunded" and b["status"] == "released"

    await until(settled, 10, "the cancelled event's holds to be settled")
    assert await refunded_amount(stripe_client, paid["payment"]["id"]) == 999
    pi = await stripe_client.v1.payment_intents.retrieve_async(held["payment"]["id"])
    assert pi.status == "canceled", "the unpaid hold's payment can no longer be completed"
    # The late webhook issues nothing.
    status, hook = await deliver(
        tapi, "payment_intent.succeeded", {"id": paid["payment"]["id"], "object": "payment_intent"}
    )
    assert status == 200 and hook["outcome"] != "issued", hook
    ticket = await ticket_of(tapi, paying, paid["ticket"]["id"])
    assert ticket["status"] == "refunded" and ticket["close_reason"] == "event_cancelled"
    status, sales = await tapi.call("GET", f"/api/live/{event['id']}/sales", token=artist["access"])
    assert sales["seats_held"] == 0 and not any(t["sold"] for t in sales["totals"])


async def test_payment_completed_after_cancellation_is_never_kept(dapi: Api) -> None:
    artist, fan = await make_user(dapi, "artist"), await make_user(dapi)
    event = await paid_event(dapi, artist, price=2999, capacity=10)
    body = await purchase(dapi, fan, event["id"])
    status, _ = await dapi.call("POST", f"/api/live/{event['id']}/cancel", token=artist["access"])
    assert status == 200

    async def released() -> bool:
        ticket = await ticket_of(dapi, fan, body["ticket"]["id"])
        return ticket["status"] == "released"

    await until(released, 10, "the hold to be released")
    status, done = await dapi.call("POST", body["payment"]["confirm_url"], token=fan["access"])
    assert done.get("ticket", {}).get("status") != "valid", done
    async with dapi.app[DB].acquire() as conn:
        payment = await store.dev_get(conn, body["payment"]["id"])
    assert payment is not None
    assert payment["status"] != "succeeded" or payment["refunded_minor"] == 2999
    status, sales = await dapi.call("GET", f"/api/live/{event['id']}/sales", token=artist["access"])
    assert not any(t["sold"] for t in sales["totals"])


async def test_payment_succeeding_after_the_event_ended_is_refunded(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    event = await paid_event(tapi, artist, price=999, capacity=5)
    body = await purchase(tapi, fan, event["id"])
    form = {"app": "live", "name": event["stream_key"], "clientid": "7", "call": "publish"}
    assert await rtmp_hook(tapi, "publish", form) == 302
    assert await rtmp_hook(tapi, "publish_done", {**form, "name": event["id"]}) == 204
    assert await pay(stripe_client, body["payment"]["id"]) == "succeeded"
    status, hook = await deliver(
        tapi, "payment_intent.succeeded", {"id": body["payment"]["id"], "object": "payment_intent"}
    )
    assert status == 200 and hook["outcome"] == "refunded_event_over", hook
    ticket = await ticket_of(tapi, fan, body["ticket"]["id"])
    assert ticket["status"] == "refunded"
    assert await refunded_amount(stripe_client, body["payment"]["id"]) == 999


async def test_failed_cancellation_refund_is_retried_by_the_sweeper(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    event = await paid_event(tapi, artist, price=999)
    ticket = await buy(tapi, stripe_client, fan, event["id"])
    provider = tapi.app[RUNTIME].provider
    real = provider.refund
    calls = 0

    async def unavailable(*args: Any, **kwargs: Any) -> str:
        nonlocal calls
        calls += 1
        raise PaymentError("stripe: temporarily unavailable")

    provider.refund = unavailable  # type: ignore[method-assign]
    try:
        status, _ = await tapi.call(
            "POST", f"/api/live/{event['id']}/cancel", token=artist["access"]
        )
        assert status == 200

        async def tried() -> bool:
            return calls > 0

        await until(tried, 10, "the cancellation's refund attempt")
        await asyncio.sleep(0.2)
    finally:
        provider.refund = real  # type: ignore[method-assign]
    assert (await ticket_of(tapi, fan, ticket["id"]))["status"] == "valid"
    await sweeper.sweep(tapi.app)
    after = await ticket_of(tapi, fan, ticket["id"])
    assert after["status"] == "refunded" and after["close_reason"] == "event_cancelled"
    assert await refunded_amount(stripe_client, await _payment_of(tapi, ticket["id"])) == 999


async def _payment_of(api: Api, ticket_id: str) -> str:
    async with api.app[DB].acquire() as conn:
        row = await store.get(conn, uuid.UUID(ticket_id))
    assert row is not None
    return str(row["payment_ref"])


async def test_refund_seen_before_success_never_issues_the_ticket(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    event = await paid_event(tapi, artist, price=999, capacity=5)
    body = await purchase(tapi, fan, event["id"])
    pid = body["payment"]["id"]
    assert await pay(stripe_client, pid) == "succeeded"
    await stripe_client.v1.refunds.create_async(params={"payment_intent": pid})
    pi = await stripe_client.v1.payment_intents.retrieve_async(pid)
    status, hook = await deliver(tapi, "charge.refunded", {"id": charge_id(pi), "object": "charge"})
    assert status == 200 and hook["outcome"] == "refunded", hook
    status, hook = await deliver(
        tapi, "payment_intent.succeeded", {"id": pid, "object": "payment_intent"}
    )
    assert status == 200 and hook["outcome"] not in ("issued", "issued_late"), hook
    ticket = await ticket_of(tapi, fan, body["ticket"]["id"])
    assert ticket["status"] == "refunded", ticket
    status, sales = await tapi.call("GET", f"/api/live/{event['id']}/sales", token=artist["access"])
    assert sales["seats_held"] == 0 and not any(t["sold"] for t in sales["totals"])


async def test_concurrent_late_settlements_take_one_seat(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, price=999, capacity=3)
    event_id = uuid.UUID(event["id"])
    for fan in await make_fans(tapi, 2):
        body = await purchase(tapi, fan, event["id"])
        pid, tid = body["payment"]["id"], uuid.UUID(body["ticket"]["id"])
        assert await pay(stripe_client, pid) == "succeeded"
        # The hold was released before the success was seen (the provider refused to cancel
        # an intent that had already succeeded).
        async with tapi.app[DB].acquire() as conn:
            assert await store.transition(
                conn, tid, ("reserved",), "released", await conn.fetchval("SELECT now()"), "expired"
            )
        # Stripe's processing and succeeded notifications arrive together; both see success.
        results = await asyncio.gather(
            *(
                deliver(tapi, kind, {"id": pid, "object": "payment_intent"})
                for kind in ("payment_intent.processing", "payment_intent.succeeded")
            )
        )
        outcomes = [hook["outcome"] for _, hook in results]
        assert outcomes.count("issued_late") == 1, outcomes
        async with tapi.app[DB].acquire() as conn:
            holding = await conn.fetchval(
                "SELECT count(*) FROM tickets WHERE event_id = $1 AND status = ANY($2::text[])",
                event_id,
                list(store.HOLDING),
            )
            assert await store.held(conn, event_id) == holding
    status, sales = await tapi.call("GET", f"/api/live/{event['id']}/sales", token=artist["access"])
    assert status == 200 and sales["seats_held"] == 2 and sales["totals"][0]["sold"] == 2
    await purchase(tapi, await make_user(tapi), event["id"])  # the third seat is still free
