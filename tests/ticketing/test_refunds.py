"""Refunds by staff, at the provider, lost disputes and cancellations revoke tickets and sessions."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import stripe

from server.clock import Clock
from server.keys import DB
from tests.conftest import Api
from tests.streaming import until
from tests.ticketing.conftest import buy, charge_id, code_for, deliver, make_user, paid_event, pay
from ticketing import store, sweeper


async def admitted(
    api: Api, stripe_client: stripe.StripeClient, fan: dict[str, Any], event_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    ticket = await buy(api, stripe_client, fan, event_id)
    status, ok = await api.call(
        "POST",
        "/api/tickets/validate",
        token=str(fan["access"]),
        json={"code": await code_for(api, fan, str(ticket["id"]))},
    )
    assert status == 200, ok
    return ticket, ok["playback"]


async def gate(api: Api, url: str) -> int:
    async with api.session.get(
        api.base_url + "/internal/play-auth", headers={"X-Original-URI": urlsplit(url).path}
    ) as resp:
        return resp.status


async def test_artist_refund_revokes_ticket_sessions_and_sale(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist, other_artist, fan, admin = (
        await make_user(tapi, "artist"),
        await make_user(tapi, "artist"),
        await make_user(tapi),
        await make_user(tapi, "admin"),
    )
    event = await paid_event(tapi, artist, price=999, capacity=2)
    ticket, grant = await admitted(tapi, stripe_client, fan, event["id"])
    assert await gate(tapi, str(grant["url"])) == 200
    for who in (fan, other_artist):
        status, err = await tapi.call(
            "POST", f"/api/tickets/{ticket['id']}/refund", token=who["access"]
        )
        assert status == 403, err
    status, refunded = await tapi.call(
        "POST", f"/api/tickets/{ticket['id']}/refund", token=artist["access"]
    )
    assert status == 200 and refunded["status"] == "refunded", refunded
    assert await gate(tapi, str(grant["url"])) == 403
    status, _ = await tapi.call("POST", f"/api/live/{event['id']}/playback", token=fan["access"])
    assert status == 403
    pi = await stripe_client.v1.payment_intents.retrieve_async(
        await _payment_of(tapi, str(ticket["id"]))
    )
    charge = await stripe_client.v1.charges.retrieve_async(charge_id(pi))
    assert charge.amount_refunded == 999
    status, err = await tapi.call(
        "POST", f"/api/tickets/{ticket['id']}/refund", token=admin["access"]
    )
    assert status == 409 and err["error"]["code"] == "already_refunded"
    status, sales = await tapi.call("GET", f"/api/live/{event['id']}/sales", token=artist["access"])
    assert sales["totals"][0]["sold"] == 0 and sales["totals"][0]["refunded"] == 1
    assert sales["totals"][0]["gross"] == 0 and sales["seats_held"] == 0
    # The provider's own notification of that refund changes nothing more.
    status, hook = await deliver(tapi, "charge.refunded", {"id": charge.id, "object": "charge"})
    assert hook["outcome"] == "duplicate"
    status, err = await tapi.call(
        "POST", f"/api/tickets/{uuid.uuid4()}/refund", token=admin["access"]
    )
    assert status == 404


async def _payment_of(api: Api, ticket_id: str) -> str:
    async with api.app[DB].acquire() as conn:
        row = await store.get(conn, uuid.UUID(ticket_id))
    assert row is not None
    return str(row["payment_ref"])


async def test_refund_made_at_stripe_revokes_the_ticket(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    event = await paid_event(tapi, artist)
    ticket, grant = await admitted(tapi, stripe_client, fan, event["id"])
    payment = await _payment_of(tapi, str(ticket["id"]))
    refund = await stripe_client.v1.refunds.create_async(params={"payment_intent": payment})
    pi = await stripe_client.v1.payment_intents.retrieve_async(payment)
    status, hook = await deliver(
        tapi, "charge.refunded", {"id": charge_id(pi), "object": "charge", "refunds": [refund.id]}
    )
    assert status == 200 and hook["outcome"] == "refunded"
    assert await gate(tapi, str(grant["url"])) == 403
    status, row = await tapi.call("GET", f"/api/tickets/{ticket['id']}", token=fan["access"])
    assert row["status"] == "refunded" and row["close_reason"] == "refunded_at_provider"


async def test_lost_dispute_revokes_and_won_dispute_does_not(
    tapi: Api, localstripe: str, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, capacity=5)
    for outcome, want in (("won", "valid"), ("lost", "revoked")):
        fan = await make_user(tapi)
        ticket, grant = await admitted(tapi, stripe_client, fan, event["id"])
        pi = await stripe_client.v1.payment_intents.retrieve_async(
            await _payment_of(tapi, str(ticket["id"]))
        )
        async with tapi.session.post(
            f"{localstripe}/_config/disputes", json={"charge": charge_id(pi)}
        ) as resp:
            dispute = await resp.json()
            assert resp.status == 200, dispute
        async with tapi.session.post(
            f"{localstripe}/_config/disputes/{dispute['id']}/close", json={"status": outcome}
        ) as resp:
            assert resp.status == 200
        status, hook = await deliver(
            tapi,
            "charge.dispute.closed",
            {"id": dispute["id"], "object": "dispute", "status": "lost"},
        )
        assert status == 200, hook
        status, row = await tapi.call("GET", f"/api/tickets/{ticket['id']}", token=fan["access"])
        assert row["status"] == want
        assert await gate(tapi, str(grant["url"])) == (200 if outcome == "won" else 403)


async def test_cancelling_an_event_refunds_its_tickets(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    event = await paid_event(tapi, artist)
    ticket = await buy(tapi, stripe_client, fan, event["id"])
    status, _ = await tapi.call("POST", f"/api/live/{event['id']}/cancel", token=artist["access"])
    assert status == 200

    async def refunded() -> bool:
        _, row = await tapi.call("GET", f"/api/tickets/{ticket['id']}", token=fan["access"])
        return bool(row["status"] == "refunded" and row["close_reason"] == "event_cancelled")

    await until(refunded, 10, "the cancelled event's ticket to be refunded")


async def test_refund_interrupted_midway_is_retried(
    tapi: Api, tclock: Clock, stripe_client: stripe.StripeClient
) -> None:
    artist, first, second = (
        await make_user(tapi, "artist"),
        await make_user(tapi),
        await make_user(tapi),
    )
    event = await paid_event(tapi, artist, price=999, capacity=5)
    asked = await buy(tapi, stripe_client, first, event["id"])
    swept = await buy(tapi, stripe_client, second, event["id"])
    for ticket in (asked, swept):  # what a crash between the claim and the provider leaves
        async with tapi.app[DB].acquire() as conn:
            assert await store.transition(
                conn, uuid.UUID(ticket["id"]), ("paid",), "refunding", tclock.now()
            )
    # Asking again finishes the refund rather than answering "already refunded".
    status, row = await tapi.call(
        "POST", f"/api/tickets/{asked['id']}/refund", token=artist["access"]
    )
    assert status == 200 and row["status"] == "refunded", row
    status, err = await tapi.call(
        "POST", f"/api/tickets/{asked['id']}/refund", token=artist["access"]
    )
    assert status == 409 and err["error"]["code"] == "already_refunded"
    # The sweeper finishes the other once it is stale; a recent one is left to its owner.
    await sweeper.sweep(tapi.app)
    _, row = await tapi.call("GET", f"/api/tickets/{swept['id']}", token=second["access"])
    assert row["status"] == "refunding"
    tclock.advance(180)
    await sweeper.sweep(tapi.app)
    _, row = await tapi.call("GET", f"/api/tickets/{swept['id']}", token=second["access"])
    assert row["status"] == "refunded", row
    for ticket in (asked, swept):
        pi = await stripe_client.v1.payment_intents.retrieve_async(
            await _payment_of(tapi, str(ticket["id"]))
        )
        charge = await stripe_client.v1.charges.retrieve_async(charge_id(pi))
        assert charge.amount_refunded == 999
    status, sales = await tapi.call("GET", f"/api/live/{event['id']}/sales", token=artist["access"])
    assert sales["seats_held"] == 0 and sales["totals"][0]["refunded"] == 2


async def test_lost_dispute_seen_before_success_never_issues_the_ticket(
    tapi: Api, localstripe: str, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    event = await paid_event(tapi, artist, capacity=5)
    status, body = await tapi.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event["id"]}
    )
    assert status == 201, body
    pid = body["payment"]["id"]
    assert await pay(stripe_client, pid) == "succeeded"
    pi = await stripe_client.v1.payment_intents.retrieve_async(pid)
    async with tapi.session.post(
        f"{localstripe}/_config/disputes", json={"charge": charge_id(pi)}
    ) as resp:
        dispute = await resp.json()
        assert resp.status == 200, dispute
    async with tapi.session.post(
        f"{localstripe}/_config/disputes/{dispute['id']}/close", json={"status": "lost"}
    ) as resp:
        assert resp.status == 200
    status, hook = await deliver(
        tapi, "charge.dispute.closed", {"id": dispute["id"], "object": "dispute"}
    )
    assert status == 200 and hook["outcome"] == "revoked", hook
    status, hook = await deliver(
        tapi, "payment_intent.succeeded", {"id": pid, "object": "payment_intent"}
    )
    assert status == 200 and hook["outcome"] not in ("issued", "issued_late"), hook
    _, row = await tapi.call("GET", f"/api/tickets/{body['ticket']['id']}", token=fan["access"])
    assert row["status"] == "revoked" and row["close_reason"] == "dispute_lost"
    status, sales = await tapi.call("GET", f"/api/live/{event['id']}/sales", token=artist["access"])
    assert sales["seats_held"] == 0
