"""Tips: payment (dev and Stripe via localstripe), exactly-once settlement, ledger legs,
refunds, the live chat highlight, and bad input."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import stripe

import ledger
from ledger.accounts import PLATFORM_REVENUE, PROCESSING
from server.keys import DB
from tests.chat.conftest import Client
from tests.conftest import Api
from tests.ledger.helpers import balance
from tests.streaming import until
from tests.test_live import hook, post_form, publish_form
from tests.ticketing.conftest import deliver, make_user, pay
from ticketing.tips import split_tip


async def _tip(api: Api, fan: dict[str, Any], **body: Any) -> tuple[int, Any]:
    return await api.call("POST", "/api/tips", token=fan["access"], json=body)


async def _legs(api: Api, tip_id: str) -> dict[str, int]:
    """What each platform account received for a tip (posted transfers)."""
    async with api.app[DB].acquire() as conn:
        rows = await conn.fetch(
            """SELECT credit_account_id, debit_account_id, amount FROM ledger_transfers
               WHERE ref = $1""",
            tip_id,
        )
    out: dict[str, int] = {}
    for account, name in ((PLATFORM_REVENUE, "platform"), (PROCESSING, "processing")):
        aid = account.id("EUR")
        out[name] = sum(
            r["amount"] * (1 if r["credit_account_id"] == aid else -1)
            for r in rows
            if aid in (r["credit_account_id"], r["debit_account_id"])
        )
    return out


def test_split_sums_and_rounds_for_the_artist() -> None:
    for amount in (1, 7, 99, 100, 101, 999, 12345, 10**9):
        for bps in (0, 500, 1000, 2500, 8000):
            parts = split_tip(amount, bps)
            assert parts.artist + parts.platform + parts.processing == amount
            assert parts.platform == amount * bps // 10_000
            assert parts.processing == amount // 10
            assert parts.artist >= 0


async def test_dev_tip_settles_at_once_and_posts_three_legs(dapi: Api) -> None:
    artist, fan = await make_user(dapi, "artist"), await make_user(dapi)
    status, body = await _tip(
        dapi, fan, artistId=str(artist["id"]), amount=1000, currency="EUR", message="bravo"
    )
    assert status == 201, body
    assert body["provider"] == "dev" and body["status"] == "succeeded", body
    parts = split_tip(1000, 1000)

    async def posted() -> bool:
        return (await balance(dapi.app, artist["id"])).available == parts.artist

    await until(posted, 30, "posted")
    assert await _legs(dapi, body["tip_id"]) == {
        "platform": parts.platform,
        "processing": parts.processing,
    }
    status, history = await dapi.call("GET", "/api/tips", token=fan["access"])
    assert status == 200 and [t["id"] for t in history["tips"]] == [body["tip_id"]]
    assert history["tips"][0]["message"] == "bravo" and history["tips"][0]["amount"] == 1000
    # Someone else's history does not show it.
    _, other = await dapi.call("GET", "/api/tips", token=(await make_user(dapi))["access"])
    assert other["tips"] == []


async def test_refund_reverses_every_leg(dapi: Api) -> None:
    artist, fan = await make_user(dapi, "artist"), await make_user(dapi)
    _, body = await _tip(dapi, fan, artistId=str(artist["id"]), amount=2000, currency="EUR")
    tip_id = body["tip_id"]

    async def posted() -> bool:
        return (await balance(dapi.app, artist["id"])).available > 0

    await until(posted, 30, "posted")
    # Only the tipped artist (or an admin) may refund; the fan sees 404.
    status, err = await dapi.call("POST", f"/api/tips/{tip_id}/refund", token=fan["access"])
    assert status == 404, err
    status, refunded = await dapi.call("POST", f"/api/tips/{tip_id}/refund", token=artist["access"])
    assert status == 200 and refunded["status"] == "refunded", refunded
    status, again = await dapi.call("POST", f"/api/tips/{tip_id}/refund", token=artist["access"])
    assert (status, again["error"]["code"]) == (409, "already_refunded")

    async def reversed_() -> bool:
        b = await balance(dapi.app, artist["id"])
        return b.available == 0 and await _legs(dapi, tip_id) == {"platform": 0, "processing": 0}

    await until(reversed_, 30, "reversed_")


async def test_refund_after_payout_leaves_a_receivable(dapi: Api) -> None:
    artist, fan = await make_user(dapi, "artist"), await make_user(dapi)
    _, body = await _tip(dapi, fan, artistId=str(artist["id"]), amount=1000, currency="EUR")
    share = split_tip(1000, 1000).artist

    async def posted() -> bool:
        return (await balance(dapi.app, artist["id"])).available == share

    await until(posted, 30, "posted")
    # The artist's available money leaves (as a payout would) before the refund.
    await ledger.post(
        dapi.app,
        ledger.Posting(
            "EUR",
            "payout",
            "payout",
            (
                ledger.Leg(
                    uuid.uuid4(),
                    ledger.Account("artist_available", artist["id"]),
                    ledger.Account("payouts_in_transit"),
                    share - 100,
                ),
            ),
        ),
    )
    status, _ = await dapi.call(
        "POST", f"/api/tips/{body['tip_id']}/refund", token=artist["access"]
    )
    assert status == 200

    async def netted() -> bool:
        b = await balance(dapi.app, artist["id"])
        return (b.available, b.receivable) == (0, share - 100)

    await until(netted, 30, "netted")


async def test_stripe_tip_is_settled_once_however_often_the_webhook_comes(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    status, body = await _tip(tapi, fan, artistId=str(artist["id"]), amount=1500, currency="EUR")
    assert status == 201 and body["provider"] == "stripe" and body["status"] == "pending", body
    assert body["client_secret"]
    async with tapi.app[DB].acquire() as conn:
        payment_id = await conn.fetchval(
            "SELECT payment_ref FROM tips WHERE id = $1", uuid.UUID(body["tip_id"])
        )
    pi = {"id": payment_id, "object": "payment_intent"}
    # Before the fan pays, a (forged-early) success notice changes nothing.
    status, hook_ = await deliver(tapi, "payment_intent.succeeded", pi)
    assert status == 200 and hook_["outcome"] == "pending", hook_
    assert await pay(stripe_client, payment_id) == "succeeded"
    # Distinct deliveries at once (Stripe retries overlap): exactly one settles it.
    results = await asyncio.gather(
        *(deliver(tapi, "payment_intent.succeeded", pi) for _ in range(6))
    )
    outcomes = sorted(r[1].get("outcome", "") for r in results if r[0] == 200)
    assert outcomes.count("tip_paid") == 1, results
    assert set(outcomes) <= {"tip_paid", "duplicate"}
    share = split_tip(1500, 1000)

    async def posted() -> bool:
        return (await balance(tapi.app, artist["id"])).available == share.artist

    await until(posted, 30, "posted")
    assert await _legs(tapi, body["tip_id"]) == {
        "platform": share.platform,
        "processing": share.processing,
    }
    _, history = await tapi.call("GET", "/api/tips", token=fan["access"])
    assert history["tips"][0]["status"] == "succeeded"


async def test_stripe_tip_declined_card_fails_and_posts_nothing(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    _, body = await _tip(tapi, fan, artistId=str(artist["id"]), amount=500, currency="EUR")
    async with tapi.app[DB].acquire() as conn:
        payment_id = await conn.fetchval(
            "SELECT payment_ref FROM tips WHERE id = $1", uuid.UUID(body["tip_id"])
        )
    assert await pay(stripe_client, payment_id, "pm_card_chargeCustomerFail") != "succeeded"
    status, hook_ = await deliver(
        tapi, "payment_intent.payment_failed", {"id": payment_id, "object": "payment_intent"}
    )
    assert status == 200 and hook_["outcome"] == "tip_failed", hook_
    _, history = await tapi.call("GET", "/api/tips", token=fan["access"])
    assert history["tips"][0]["status"] == "failed"
    assert (await balance(tapi.app, artist["id"])).available == 0


async def test_stripe_refund_at_the_provider_reverses_the_tip(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    _, body = await _tip(tapi, fan, artistId=str(artist["id"]), amount=1000, currency="EUR")
    async with tapi.app[DB].acquire() as conn:
        payment_id = await conn.fetchval(
            "SELECT payment_ref FROM tips WHERE id = $1", uuid.UUID(body["tip_id"])
        )
    await pay(stripe_client, payment_id)
    await deliver(tapi, "payment_intent.succeeded", {"id": payment_id, "object": "payment_intent"})
    refund = await stripe_client.v1.refunds.create_async(params={"payment_intent": payment_id})
    pi = await stripe_client.v1.payment_intents.retrieve_async(payment_id)
    latest = pi.to_dict()["latest_charge"]
    charge = latest if isinstance(latest, str) else latest["id"]
    assert refund.id
    status, hook_ = await deliver(tapi, "charge.refunded", {"id": charge, "object": "charge"})
    assert status == 200 and hook_["outcome"] == "refunded", hook_

    async def reversed_() -> bool:
        return await _legs(tapi, body["tip_id"]) == {"platform": 0, "processing": 0}

    await until(reversed_, 30, "reversed_")
    assert (await balance(tapi.app, artist["id"])).available == 0


async def test_tip_during_a_live_event_is_highlighted_in_its_chat(dapi: Api) -> None:
    artist, fan, watcher = (
        await dapi.register("artist"),
        await dapi.register("fan"),
        await dapi.register("fan"),
    )
    event = await dapi.create_event(artist["access"])
    status, _, _ = await post_form(dapi, hook(dapi, "publish"), publish_form(event["stream_key"]))
    assert status == 302  # on air, renamed to the event id
    client = Client()
    try:
        await client.connect(dapi.base_url, watcher["access"])
        reply = await client.call("join", {"event_id": event["id"]})
        assert reply.get("ok"), reply
        status, body = await _tip(
            dapi,
            fan,
            artistId=artist["user"]["id"],
            eventId=event["id"],
            amount=700,
            currency="EUR",
            message="encore!",
        )
        assert status == 201, body
        message = await client.wait_for(
            "message", lambda m: m.get("highlight", {}).get("tip_id") == body["tip_id"], 30
        )
        assert message["text"] == "encore!" and message["author"]["id"] == fan["user"]["id"]
        assert message["highlight"] == {
            "kind": "tip",
            "tip_id": body["tip_id"],
            "amount": 700,
            "currency": "EUR",
        }
    finally:
        await client.close()


async def test_bad_tips_are_refused_and_nothing_is_recorded(dapi: Api) -> None:
    artist, fan = await make_user(dapi, "artist"), await make_user(dapi)
    other_fan = await make_user(dapi)
    event = await dapi.create_event((await dapi.register("artist"))["access"])
    own = str(artist["id"])
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"amount": 1000, "currency": "EUR"}, 400, "invalid_field"),
        ({"artistId": own, "currency": "EUR"}, 400, "invalid_field"),
        ({"artistId": own, "amount": 0, "currency": "EUR"}, 400, "invalid_field"),
        ({"artistId": own, "amount": -5, "currency": "EUR"}, 400, "invalid_field"),
        ({"artistId": own, "amount": 99, "currency": "EUR"}, 400, "invalid_amount"),
        ({"artistId": own, "amount": 50_001, "currency": "EUR"}, 400, "invalid_amount"),
        ({"artistId": own, "amount": 10.5, "currency": "EUR"}, 400, "invalid_field"),
        ({"artistId": own, "amount": "1000", "currency": "EUR"}, 400, "invalid_field"),
        ({"artistId": own, "amount": True, "currency": "EUR"}, 400, "invalid_field"),
        ({"artistId": own, "amount": 1000, "currency": "eur"}, 400, "invalid_field"),
        ({"artistId": own, "amount": 1000, "currency": "JPY"}, 400, "invalid_currency"),
        ({"artistId": "nope", "amount": 1000, "currency": "EUR"}, 400, "invalid_id"),
        ({"artistId": own, "amount": 1000, "currency": "EUR", "x": 1}, 400, "invalid_field"),
        ({"artistId": own, "amount": 1000, "currency": "EUR", "message": "x" * 281}, 400, ""),
        ({"artistId": own, "amount": 1000, "currency": "EUR", "message": "a\x00b"}, 400, ""),
        (
            {
                "artistId": own,
                "amount": 1000,
                "currency": "EUR",
                "videoId": str(uuid.uuid4()),
                "eventId": event["id"],
            },
            400,
            "",
        ),
        ({"artistId": str(uuid.uuid4()), "amount": 1000, "currency": "EUR"}, 404, "not_found"),
        ({"artistId": str(other_fan["id"]), "amount": 1000, "currency": "EUR"}, 404, "not_found"),
        (
            {"artistId": own, "amount": 1000, "currency": "EUR", "videoId": str(uuid.uuid4())},
            404,
            "video_not_found",
        ),
        (
            {"artistId": own, "amount": 1000, "currency": "EUR", "eventId": str(uuid.uuid4())},
            404,
            "not_found",
        ),
        (
            {"artistId": own, "amount": 1000, "currency": "EUR", "eventId": event["id"]},
            409,
            "artist_mismatch",
        ),
    ]
    for body, code, error in cases:
        status, reply = await _tip(dapi, fan, **body)
        assert status == code, (body, reply)
        if error:
            assert reply["error"]["code"] == error, (body, reply)
    status, reply = await _tip(
        dapi, artist, artistId=own, amount=1000, currency="EUR"
    )  # an artist tipping themselves
    assert (status, reply["error"]["code"]) == (409, "own_tip")
    status, reply = await dapi.call(
        "POST", "/api/tips", json={"artistId": own, "amount": 1000, "currency": "EUR"}
    )
    assert status == 401
    _, history = await dapi.call("GET", "/api/tips", token=fan["access"])
    assert history["tips"] == []
    for bad in (
        "yesterday",
        "2030-01-01T00:00:00",
        "x" * 41,
        "x" * 61,
        "123.not-a-uuid",
        f"999999999999999999.{uuid.uuid4()}",
        f"-5.{uuid.uuid4()}",
        f"١٢٣.{uuid.uuid4()}",
    ):
        status, reply = await dapi.call("GET", f"/api/tips?before={bad}", token=fan["access"])
        assert status == 400, (bad, reply)


@pytest.mark.parametrize("burst", [10])
async def test_tips_are_rate_limited_per_fan(dapi: Api, burst: int) -> None:
    artist, fan = await make_user(dapi, "artist"), await make_user(dapi)
    results = await asyncio.gather(
        *(
            _tip(dapi, fan, artistId=str(artist["id"]), amount=100, currency="EUR")
            for _ in range(burst + 5)
        )
    )
    statuses = sorted(s for s, _ in results)
    assert statuses.count(201) == burst and statuses.count(429) == 5, statuses


async def _payment_of(api: Api, tip_id: str) -> str:
    async with api.app[DB].acquire() as conn:
        return str(
            await conn.fetchval("SELECT payment_ref FROM tips WHERE id = $1", uuid.UUID(tip_id))
        )


async def test_a_payment_whose_id_was_never_kept_still_settles_its_tip(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    _, body = await _tip(tapi, fan, artistId=str(artist["id"]), amount=600, currency="EUR")
    payment_id = await _payment_of(tapi, body["tip_id"])
    async with tapi.app[DB].acquire() as conn:  # what a crash right after creation leaves
        await conn.execute(
            "UPDATE tips SET payment_ref = NULL WHERE id = $1", uuid.UUID(body["tip_id"])
        )
    await pay(stripe_client, payment_id)
    status, hook_ = await deliver(
        tapi, "payment_intent.succeeded", {"id": payment_id, "object": "payment_intent"}
    )
    assert status == 200 and hook_["outcome"] == "tip_paid", hook_


async def test_a_payment_of_another_amount_is_refunded_not_kept(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    _, body = await _tip(tapi, fan, artistId=str(artist["id"]), amount=600, currency="EUR")
    payment_id = await _payment_of(tapi, body["tip_id"])
    await stripe_client.v1.payment_intents.update_async(payment_id, params={"amount": 100})
    await pay(stripe_client, payment_id)
    status, hook_ = await deliver(
        tapi, "payment_intent.succeeded", {"id": payment_id, "object": "payment_intent"}
    )
    assert status == 200 and hook_["outcome"] == "refunded_amount_mismatch", hook_
    pi = (await stripe_client.v1.payment_intents.retrieve_async(payment_id)).to_dict()
    latest = pi["latest_charge"]
    charge = await stripe_client.v1.charges.retrieve_async(
        latest if isinstance(latest, str) else latest["id"]
    )
    assert charge.amount_refunded == 100
    _, history = await tapi.call("GET", "/api/tips", token=fan["access"])
    assert history["tips"][0]["status"] == "failed"
    assert (await balance(tapi.app, artist["id"])).available == 0


async def test_history_pages_by_keyset_without_gaps_or_repeats(dapi: Api) -> None:
    artist, fan = await make_user(dapi, "artist"), await make_user(dapi)
    made = []
    for amount in (100, 200, 300, 400, 500):
        _, body = await _tip(dapi, fan, artistId=str(artist["id"]), amount=amount, currency="EUR")
        made.append(body["tip_id"])
    seen: list[str] = []
    path = "/api/tips?limit=2"
    while True:
        status, page = await dapi.call("GET", path, token=fan["access"])
        assert status == 200 and len(page["tips"]) <= 2, page
        seen += [t["id"] for t in page["tips"]]
        if page["next"] is None:
            break
        path = f"/api/tips?limit=2&before={page['next']}"
    assert seen == made[::-1]


async def test_concurrent_refunds_reverse_once(dapi: Api) -> None:
    artist, fan = await make_user(dapi, "artist"), await make_user(dapi)
    _, body = await _tip(dapi, fan, artistId=str(artist["id"]), amount=3000, currency="EUR")
    share = split_tip(3000, 1000).artist

    async def posted() -> bool:
        return (await balance(dapi.app, artist["id"])).available == share

    await until(posted, 30, "posted")
    results = await asyncio.gather(
        *(
            dapi.call("POST", f"/api/tips/{body['tip_id']}/refund", token=artist["access"])
            for _ in range(6)
        )
    )
    assert all(s in (200, 409) for s, _ in results) and any(s == 200 for s, _ in results)

    async def reversed_() -> bool:
        b = await balance(dapi.app, artist["id"])
        return (b.available, b.receivable) == (0, 0)

    await until(reversed_, 30, "reversed")
    async with dapi.app[DB].acquire() as conn:
        count = await conn.fetchval(
            """SELECT count(DISTINCT posting_id) FROM ledger_transfers
               WHERE ref = $1 AND code = 'tip_refund'""",
            body["tip_id"],
        )
    assert count == 1
