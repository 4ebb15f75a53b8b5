"""Ticket money through the ledger: a paid ticket is pending for the artist, released after
the event ended plus the hold, and a refund reverses it (a receivable once paid out, netted
from the artist's next earnings). Driven through ticketing's HTTP API and the job queue."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

import ledger
from ledger.accounts import CLEARING, artist
from ledger.tickets import release_due
from server.clock import Clock
from server.keys import CONFIG
from tests.conftest import Api
from tests.ledger.helpers import balance, until
from tests.ticketing.conftest import access_token, make_user, paid_event


async def buy(api: Api, event_id: str) -> str:
    fan = await make_user(api)
    status, body = await api.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"event_id": event_id}
    )
    assert status == 201, body
    status, done = await api.call("POST", body["payment"]["confirm_url"], token=fan["access"])
    assert status == 200 and done["outcome"] == "issued", done
    return str(done["ticket"]["id"])


async def end(api: Api, event: dict[str, Any]) -> None:
    secret = api.app[CONFIG].hook_secret
    form = {"app": "live", "name": event["stream_key"], "clientid": "9", "call": "publish"}
    async with api.session.post(
        f"{api.base_url}/hooks/rtmp/{secret}/publish", data=form, allow_redirects=False
    ) as resp:
        assert resp.status == 302
    async with api.session.post(
        f"{api.base_url}/hooks/rtmp/{secret}/publish_done", data={**form, "name": event["id"]}
    ) as resp:
        assert resp.status == 204


async def test_sale_release_refund_and_receivable_netting(dapi: Api, dclock: Clock) -> None:
    app: web.Application = dapi.app
    owner = await make_user(dapi, "artist")
    a = owner["id"]
    event = await paid_event(dapi, owner, price=999)  # split: 801 artist, 99 + 99 fees
    first = await buy(dapi, event["id"])

    async def pending_is(n: int) -> bool:
        return (await balance(app, a)).pending == n

    await until(lambda: pending_is(801))
    assert (await balance(app, a)).available == 0
    second = await buy(dapi, event["id"])
    await until(lambda: pending_is(1602))

    # Refunded while pending: the artist's share is voided.
    status, _ = await dapi.call("POST", f"/api/tickets/{first}/refund", token=owner["access"])
    assert status == 200
    await until(lambda: pending_is(801))

    await end(dapi, event)
    await release_due(app)
    assert (await balance(app, a)).pending == 801  # the hold period has not passed
    dclock.advance(8 * 86400)
    assert await release_due(app) >= 1
    b = await balance(app, a)
    assert (b.pending, b.available) == (0, 801)

    owner["access"] = access_token(dapi, a, "artist")  # the old one expired meanwhile
    # Paid out, then refunded: the artist owes it back.
    await ledger.post(
        app,
        ledger.Posting(
            "EUR",
            "payout",
            "payout",
            (ledger.Leg(uuid.uuid4(), artist("artist_available", a), CLEARING, 801),),
        ),
    )
    status, _ = await dapi.call("POST", f"/api/tickets/{second}/refund", token=owner["access"])
    assert status == 200

    async def owes() -> bool:
        return (await balance(app, a)).receivable == 801

    await until(owes)
    assert (await balance(app, a)).available == 0

    # The next earnings are netted against what is owed; nothing ever went negative.
    later = await paid_event(dapi, owner, price=999)
    await buy(dapi, later["id"])
    await buy(dapi, later["id"])
    await until(lambda: pending_is(1602))
    await end(dapi, later)
    dclock.advance(8 * 86400)
    assert await release_due(app) >= 2
    b = await balance(app, a)
    assert (b.pending, b.available, b.receivable) == (0, 801, 0)
