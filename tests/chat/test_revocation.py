"""Revoked tokens on live sockets, and joins racing their own limits and disconnects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.chat.conftest import WAIT, Client, joined, moderator_token, new_show
from tests.conftest import Api, admin_token
from tests.streaming import until


async def test_logout_stops_an_open_socket(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    client = await joined(clients, url, fan["access"], show.id)
    assert (await client.call("send", {"event_id": show.id, "text": "before"}))["ok"]
    status, _ = await api.call("POST", "/api/auth/logout", token=fan["access"])
    assert status == 200
    # Pushed, not waited for: a socket that only listens never presents its token again.
    assert await client.wait_for("token_revoked") == {"user_id": fan["user"]["id"]}
    await asyncio.wait_for(client.disconnected.wait(), WAIT)


async def test_demoted_moderator_loses_powers_at_once(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    victim = await joined(clients, url, fan["access"], show.id)
    mod_token = await moderator_token(api)
    status, me = await api.call("GET", "/api/auth/me", token=mod_token)
    moderator = await joined(clients, url, mod_token, show.id)
    status, _ = await api.call(
        "POST",
        f"/api/admin/users/{me['id']}/role",
        token=await admin_token(api),
        json={"role": "fan"},
    )
    assert status == 200
    await moderator.wait_for("token_revoked")
    await asyncio.wait_for(moderator.disconnected.wait(), WAIT)
    assert (await victim.call("send", {"event_id": show.id, "text": "still here"}))["ok"]
    assert not victim.seen("token_revoked")
    status, _ = await api.call("GET", "/api/auth/me", token=mod_token)
    assert status == 401


async def test_concurrent_joins_respect_the_room_cap(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    fan = await api.register("fan")
    client = clients()
    await client.connect(url, fan["access"])
    shows = [await new_show(api) for _ in range(12)]
    replies = await asyncio.gather(*(client.call("join", {"event_id": s.id}) for s in shows))
    assert sum(1 for r in replies if r.get("ok")) == 5
    assert {r["error"]["code"] for r in replies if not r.get("ok")} == {"too_many_rooms"}


async def test_join_racing_a_disconnect_leaves_no_viewer(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    for _ in range(20):
        client = clients()
        await client.connect(url, fan["access"])
        await client.sio.emit("join", {"event_id": show.id})
        await client.sio.disconnect()

    async def nobody() -> bool:
        status, body = await api.call("GET", f"/api/live/{show.id}/viewers")
        return status == 200 and body["viewers"] == 0

    await until(nobody, 10, "phantom viewers to be gone")
