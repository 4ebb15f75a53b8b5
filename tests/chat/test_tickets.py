"""Ticket holders join a paid event's chat through the ticketing package's watch rule."""

from __future__ import annotations

from collections.abc import Callable

from tests.chat.conftest import Client
from tests.conftest import Api
from tests.ticketing.conftest import dapi, dev_app, make_user, paid_event

__all__ = ["dapi", "dev_app"]  # fixtures of the dev-payments app, used below


async def test_ticket_holder_joins_paid_chat(dapi: Api, clients: Callable[[], Client]) -> None:
    artist, fan = await make_user(dapi, "artist"), await make_user(dapi)
    event = await paid_event(dapi, artist, price=1500)
    client = clients()
    await client.connect(dapi.base_url, fan["access"])
    assert (await client.call("join", {"event_id": event["id"]}))["error"]["code"] == "no_access"
    status, body = await dapi.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event["id"]}
    )
    assert status == 201, body
    status, done = await dapi.call("POST", body["payment"]["confirm_url"], token=fan["access"])
    assert status == 200 and done["ticket"]["status"] == "valid"
    status, code = await dapi.call(
        "GET", f"/api/tickets/{done['ticket']['id']}/qr?format=json", token=fan["access"]
    )
    assert status == 200
    status, admitted = await dapi.call(
        "POST", "/api/tickets/validate", token=fan["access"], json={"code": code["code"]}
    )
    assert status == 200, admitted
    reply = await client.call("join", {"event_id": event["id"]})
    assert reply["ok"] is True and reply["moderator"] is False
    assert (await client.call("send", {"event_id": event["id"], "text": "I'm in"}))["ok"]
