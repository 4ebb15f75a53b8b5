"""Webhook deliveries: unfinished claims, overlapping deliveries and malformed bodies."""

from __future__ import annotations

import json
import secrets

import stripe

from server.clock import Clock
from server.keys import DB
from tests.conftest import Api
from tests.ticketing.conftest import deliver, make_user, paid_event, pay
from ticketing import store


async def test_claim_left_unfinished_is_taken_over_once_stale(
    tapi: Api, tclock: Clock, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    event = await paid_event(tapi, artist)
    status, body = await tapi.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event["id"]}
    )
    assert status == 201, body
    pid = body["payment"]["id"]
    assert await pay(stripe_client, pid) == "succeeded"
    evt = "evt_" + secrets.token_hex(8)
    async with tapi.app[DB].acquire() as conn:  # what a crash after the claim leaves behind
        await store.claim_webhook(conn, evt, "stripe", "payment_intent.succeeded", tclock.now())
    pi = {"id": pid, "object": "payment_intent"}
    # Still in flight as far as anyone can tell: Stripe is told to retry.
    status, hook = await deliver(tapi, "payment_intent.succeeded", pi, event_id=evt)
    assert status == 409 and hook["error"]["code"] == "in_progress", hook
    _, ticket = await tapi.call("GET", f"/api/tickets/{body['ticket']['id']}", token=fan["access"])
    assert ticket["status"] == "reserved"
    # Stripe's retry after the claim went stale takes it over and processes the event.
    tclock.advance(180)
    status, hook = await deliver(tapi, "payment_intent.succeeded", pi, event_id=evt)
    assert status == 200 and hook["outcome"] == "issued", hook
    _, ticket = await tapi.call("GET", f"/api/tickets/{body['ticket']['id']}", token=fan["access"])
    assert ticket["status"] == "valid"
    status, hook = await deliver(tapi, "payment_intent.succeeded", pi, event_id=evt)
    assert status == 200 and hook["duplicate"] is True


async def test_signed_event_whose_data_is_not_an_object_is_refused(tapi: Api) -> None:
    for data in (["x"], "x", 3, {"object": ["x"]}, None):
        body = json.dumps(
            {"id": "evt_" + secrets.token_hex(8), "type": "charge.refunded", "data": data}
        )
        status, err = await deliver(tapi, "charge.refunded", {}, body=body)
        assert (status, err["error"]["code"]) == (400, "invalid_payload"), (data, err)
