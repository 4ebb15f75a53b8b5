"""Kicks reach every socket in a room, whatever the client sends: attack tests.

A client may not fake its own disconnect (an event named `disconnect` or any other reserved
name), and sockets that only listen are removed when the user's rights change: a ban, a
refund, a moderator removed, a logout or role change (tests/chat/test_revocation.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from socketio import packet

from tests.chat.conftest import WAIT, Client, joined, new_show
from tests.conftest import Api
from tests.ticketing.conftest import dapi, dev_app, make_user, paid_event

__all__ = ["dapi", "dev_app"]  # fixtures of the dev-payments app, used below


async def viewers(api: Api, event_id: str) -> int:
    status, body = await api.call("GET", f"/api/live/{event_id}/viewers")
    assert status == 200, body
    return int(body["viewers"])


async def send_raw_event(client: Client, *data: Any) -> None:
    """Put an EVENT packet on the wire as is, bypassing any check a client library makes."""
    await client.sio._send_packet(
        client.sio.packet_class(packet.EVENT, namespace="/", data=list(data))
    )


async def not_delivered(client: Client, witness: Client, text: str) -> None:
    """`witness` got `text`, and after a round trip `client` still has not."""
    await witness.wait_for("message", lambda m: m["text"] == text)
    await client.barrier()
    assert not client.seen("message", lambda m: m["text"] == text)


async def test_a_faked_disconnect_is_refused_and_the_ban_still_lands(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    victim = await joined(clients, url, fan["access"], show.id)
    artist = await joined(clients, url, show.artist_token, show.id)
    assert await viewers(api, show.id) == 2
    # Every reserved name, with and without an ack, and as the client library would send it.
    for name in ("disconnect", "connect", "connect_error", "disconnecting", "*"):
        reply = await victim.sio.call(name, {"event_id": show.id}, timeout=WAIT)
        assert reply == {"error": {"code": "reserved_event", "message": "reserved event name"}}, (
            name,
            reply,
        )
        await send_raw_event(victim, name)
    await send_raw_event(victim, "disconnect", "client namespace disconnect")
    await send_raw_event(victim, 42, {"event_id": show.id})
    await victim.barrier()
    # The server still counts the socket, and it still works.
    assert await viewers(api, show.id) == 2
    assert (await victim.call("send", {"event_id": show.id, "text": "still counted"}))["ok"]

    reply = await artist.call("ban", {"event_id": show.id, "user_id": fan["user"]["id"]})
    assert reply["ok"], reply
    assert await victim.wait_for("banned") == {"event_id": show.id}
    assert (await artist.call("send", {"event_id": show.id, "text": "after the ban"}))["ok"]
    await not_delivered(victim, artist, "after the ban")
    assert await viewers(api, show.id) == 1


async def test_a_faked_disconnect_does_not_escape_a_cancellation(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    victim = await joined(clients, url, fan["access"], show.id)
    await send_raw_event(victim, "disconnect")
    await victim.barrier()
    status, _ = await api.call("POST", f"/api/live/{show.id}/cancel", token=show.artist_token)
    assert status == 200
    assert await victim.wait_for("event_cancelled") == {"event_id": show.id}
    reply = await victim.call("send", {"event_id": show.id, "text": "anyone?"})
    assert reply["error"]["code"] == "not_joined", reply


async def admitted_fan(dapi: Api, event: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A fan with a paid ticket that has been validated (so it admits to the chat)."""
    fan = await make_user(dapi)
    status, body = await dapi.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event["id"]}
    )
    assert status == 201, body
    status, done = await dapi.call("POST", body["payment"]["confirm_url"], token=fan["access"])
    assert status == 200, done
    ticket_id = done["ticket"]["id"]
    status, code = await dapi.call(
        "GET", f"/api/tickets/{ticket_id}/qr?format=json", token=fan["access"]
    )
    assert status == 200, code
    status, admitted = await dapi.call(
        "POST", "/api/tickets/validate", token=fan["access"], json={"code": code["code"]}
    )
    assert status == 200, admitted
    return fan, ticket_id


async def test_a_refund_removes_a_listen_only_socket(
    dapi: Api, clients: Callable[[], Client]
) -> None:
    artist = await make_user(dapi, "artist")
    event = await paid_event(dapi, artist, price=1500)
    fan, ticket_id = await admitted_fan(dapi, event)
    other, _ = await admitted_fan(dapi, event)
    listener = await joined(clients, dapi.base_url, fan["access"], event["id"])
    bystander = await joined(clients, dapi.base_url, other["access"], event["id"])
    speaker = await joined(clients, dapi.base_url, artist["access"], event["id"])
    await send_raw_event(listener, "disconnect")  # and it tries to hide, too
    status, refunded = await dapi.call(
        "POST", f"/api/tickets/{ticket_id}/refund", token=artist["access"]
    )
    assert status == 200 and refunded["status"] == "refunded", refunded
    assert await listener.wait_for("access_revoked") == {"event_id": event["id"]}
    assert (await speaker.call("send", {"event_id": event["id"], "text": "paid only"}))["ok"]
    await not_delivered(listener, speaker, "paid only")
    await bystander.wait_for("message", lambda m: m["text"] == "paid only")
    assert not bystander.seen("access_revoked")
    reply = await listener.call("join", {"event_id": event["id"]})
    assert reply["error"]["code"] == "no_access", reply


async def test_removing_a_moderator_removes_what_the_assignment_gave(
    dapi: Api, clients: Callable[[], Client]
) -> None:
    artist = await make_user(dapi, "artist")
    event = await paid_event(dapi, artist, price=1500)
    helper = await make_user(dapi)
    target, _ = await admitted_fan(dapi, event)
    path = f"/api/live/{event['id']}/moderators"
    status, _ = await dapi.call(
        "POST", path, token=artist["access"], json={"user_id": str(helper["id"])}
    )
    assert status == 201
    moderator = clients()
    await moderator.connect(dapi.base_url, helper["access"])
    reply = await moderator.call("join", {"event_id": event["id"]})
    assert reply["ok"] and reply["moderator"] is True, reply
    status, _ = await dapi.call("DELETE", f"{path}/{helper['id']}", token=artist["access"])
    assert status == 204
    # No ticket: the assignment was the only way in.
    assert await moderator.wait_for("access_revoked") == {"event_id": event["id"]}
    reply = await moderator.call(
        "timeout", {"event_id": event["id"], "user_id": str(target["id"]), "minutes": 5}
    )
    assert reply["error"]["code"] == "not_moderator", reply
    reply = await moderator.call("send", {"event_id": event["id"], "text": "still here?"})
    assert reply["error"]["code"] == "not_joined", reply


async def test_removed_moderator_with_access_stays_but_stops_skipping_slow_mode(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)  # free: everyone may watch
    helper = await api.register("fan")
    path = f"/api/live/{show.id}/moderators"
    status, _ = await api.call(
        "POST", path, token=show.artist_token, json={"user_id": helper["user"]["id"]}
    )
    assert status == 201
    moderator = await joined(clients, url, helper["access"], show.id)
    artist = await joined(clients, url, show.artist_token, show.id)
    assert (await artist.call("slow_mode", {"event_id": show.id, "seconds": 60}))["ok"]
    for text in ("one", "two"):  # exempt while a moderator
        assert (await moderator.call("send", {"event_id": show.id, "text": text}))["ok"]
    status, _ = await api.call("DELETE", f"{path}/{helper['user']['id']}", token=show.artist_token)
    assert status == 204

    async def slowed() -> bool:
        reply = await moderator.call("send", {"event_id": show.id, "text": str(uuid.uuid4())})
        return bool(reply.get("error", {}).get("code") == "slow_mode")

    deadline = asyncio.get_running_loop().time() + WAIT
    while not await slowed():
        assert asyncio.get_running_loop().time() < deadline, "still exempt from slow mode"
        await asyncio.sleep(0.05)
    assert not moderator.seen("access_revoked")
