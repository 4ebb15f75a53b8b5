"""Connecting with a JWT and joining rooms: who gets in, and what a join returns."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
import socketio

from server.accounts.tokens import issue_access
from server.clock import Clock
from server.keys import CONFIG
from tests.chat.conftest import Client, joined, moderator_token, new_show
from tests.conftest import Api


async def refused(client: Client, url: str, token: str | None) -> str:
    """Connect expecting a refusal; returns the error code the server gave."""
    codes: list[str] = []

    async def on_error(data: object) -> None:
        codes.append(data.get("data", {}).get("code", "") if isinstance(data, dict) else "")

    client.sio.on("connect_error", on_error)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, token)
    assert not client.sio.connected
    return codes[0] if codes else ""


async def test_connect_needs_a_valid_token(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    assert await refused(clients(), url, None) == "unauthorized"
    assert await refused(clients(), url, "not-a-jwt") == "invalid_token"
    fan = await api.register("fan")
    secret = api.app[CONFIG].jwt_secret
    expired, _ = issue_access(secret, uuid.UUID(fan["user"]["id"]), "fan", time.time() - 3600, 60)
    assert await refused(clients(), url, expired) == "invalid_token"
    forged, _ = issue_access("x" * 40, uuid.UUID(fan["user"]["id"]), "admin", time.time(), 600)
    assert await refused(clients(), url, forged) == "invalid_token"
    # A logged-out token is refused too.
    status, _ = await api.call("POST", "/api/auth/logout", token=fan["access"], json={})
    assert status in (200, 204)
    assert await refused(clients(), url, fan["access"]) == "invalid_token"


async def test_connect_refuses_odd_auth_payloads(url: str, clients: Callable[[], Client]) -> None:
    for auth in ("just-a-string", {"token": 42}, {"token": "x" * 10_000}, {"other": 1}):
        client = clients()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=5)


async def test_join_returns_state_history_and_viewers(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    client = clients()
    await client.connect(url, fan["access"])
    reply = await client.call("join", {"event_id": show.id})
    assert reply["ok"] is True
    assert reply["event"]["id"] == show.id and reply["event"]["status"] == "scheduled"
    assert "stream_key" not in reply["event"]
    assert reply["messages"] == [] and reply["pinned"] is None
    assert reply["slow_mode"] == 0 and reply["moderator"] is False
    assert reply["viewers"] == 1 and reply["timed_out_until"] is None
    # Joining again is harmless and still answers with the state.
    again = await client.call("join", {"event_id": show.id})
    assert again["ok"] and again["viewers"] == 1


async def test_who_may_join_a_paid_event(api: Api, url: str, clients: Callable[[], Client]) -> None:
    show = await new_show(api, price=1500)
    fan = await api.register("fan")
    client = clients()
    await client.connect(url, fan["access"])
    reply = await client.call("join", {"event_id": show.id})
    assert reply["error"]["code"] == "no_access"
    artist = await joined(clients, url, show.artist_token, show.id)
    assert artist.events == []
    mod = await joined(clients, url, await moderator_token(api), show.id)
    assert mod.events == []
    # An assigned chat moderator may join (and watch) without a ticket.
    status, _ = await api.call(
        "POST",
        f"/api/live/{show.id}/moderators",
        token=show.artist_token,
        json={"user_id": fan["user"]["id"]},
    )
    assert status == 201
    reply = await client.call("join", {"event_id": show.id})
    assert reply["ok"] and reply["moderator"] is True


async def test_join_errors(api: Api, url: str, clients: Callable[[], Client]) -> None:
    fan = await api.register("fan")
    client = clients()
    await client.connect(url, fan["access"])
    assert (await client.call("join", {"event_id": str(uuid.uuid4())}))["error"][
        "code"
    ] == "not_found"
    for bad in ({}, {"event_id": "nope"}, {"event_id": 7}, {"event_id": None}):
        reply = await client.call("join", bad)
        assert reply["error"]["code"] == "invalid_payload", (bad, reply)
    show = await new_show(api)
    status, _ = await api.call("POST", f"/api/live/{show.id}/cancel", token=show.artist_token)
    assert status == 200
    assert (await client.call("join", {"event_id": show.id}))["error"]["code"] == "event_cancelled"


async def test_room_limit_per_connection(api: Api, url: str, clients: Callable[[], Client]) -> None:
    fan = await api.register("fan")
    client = clients()
    await client.connect(url, fan["access"])
    shows = [await new_show(api) for _ in range(6)]
    for show in shows[:5]:
        assert (await client.call("join", {"event_id": show.id}))["ok"]
    assert (await client.call("join", {"event_id": shows[5].id}))["error"][
        "code"
    ] == "too_many_rooms"
    assert (await client.call("leave", {"event_id": shows[0].id}))["ok"]
    assert (await client.call("join", {"event_id": shows[5].id}))["ok"]


async def test_expired_token_on_a_live_connection(
    api: Api, url: str, clock: Clock, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    client = await joined(clients, url, fan["access"], show.id)
    clock.advance(api.app[CONFIG].access_ttl + 1)
    reply = await client.call("send", {"event_id": show.id, "text": "late"})
    assert reply["error"]["code"] == "token_expired"


async def test_browser_origins(api: Api, url: str, clients: Callable[[], Client]) -> None:
    fan = await api.register("fan")
    public = api.app[CONFIG].public_url
    ok = clients()
    await ok.connect(url, fan["access"], headers={"Origin": public})
    assert ok.sio.connected
    same_site = clients()
    await same_site.connect(url, fan["access"], headers={"Origin": url})
    assert same_site.sio.connected
    with pytest.raises(socketio.exceptions.ConnectionError):
        await clients().connect(url, fan["access"], headers={"Origin": "https://evil.example"})
