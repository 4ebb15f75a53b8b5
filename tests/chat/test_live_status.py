"""Stream start/stop and cancellation reach the room; the viewer count follows joins and leaves."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from server.keys import CONFIG
from tests.chat.conftest import Client, joined, new_show
from tests.conftest import Api


async def hook(api: Api, name: str, fields: dict[str, str]) -> int:
    """Call an nginx-rtmp callback as nginx would."""
    secret = api.app[CONFIG].hook_secret
    async with api.session.post(
        f"{api.base_url}/hooks/rtmp/{secret}/{name}", data=fields, allow_redirects=False
    ) as resp:
        return resp.status


async def test_stream_started_and_ended(api: Api, url: str, clients: Callable[[], Client]) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    client = await joined(clients, url, fan["access"], show.id)
    fields = {"name": show.event["stream_key"], "clientid": "7", "call": "publish", "app": "live"}
    assert await hook(api, "publish", fields) == 302
    assert await client.wait_for("stream_started") == {"event_id": show.id, "status": "live"}
    assert (await client.call("join", {"event_id": show.id}))["event"]["status"] == "live"
    assert await hook(api, "publish_done", {**fields, "name": show.id}) == 204
    assert await client.wait_for("stream_ended") == {"event_id": show.id, "status": "ended"}
    # The room stays open after the show.
    assert (await client.call("send", {"event_id": show.id, "text": "encore!"}))["ok"]


async def test_cancel_closes_the_room(api: Api, url: str, clients: Callable[[], Client]) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    client = await joined(clients, url, fan["access"], show.id)
    status, _ = await api.call("POST", f"/api/live/{show.id}/cancel", token=show.artist_token)
    assert status == 200
    assert await client.wait_for("event_cancelled") == {"event_id": show.id}
    reply = await client.call("send", {"event_id": show.id, "text": "hello?"})
    assert reply["error"]["code"] == "not_joined"


async def test_viewer_count(api: Api, url: str, clients: Callable[[], Client]) -> None:
    show = await new_show(api)
    path = f"/api/live/{show.id}/viewers"
    assert await api.call("GET", path) == (200, {"event_id": show.id, "viewers": 0})
    fan, other = await api.register("fan"), await api.register("fan")
    first = await joined(clients, url, fan["access"], show.id)
    await joined(clients, url, fan["access"], show.id)  # same user, second device
    second = await joined(clients, url, other["access"], show.id)
    assert (await api.call("GET", path))[1]["viewers"] == 2
    await second.call("leave", {"event_id": show.id})
    assert (await api.call("GET", path))[1]["viewers"] == 1
    await first.close()
    await first.disconnected.wait()
    assert (await api.call("GET", path))[1]["viewers"] == 1  # the second device is still there
    assert (await api.call("GET", f"/api/live/{uuid.uuid4()}/viewers"))[0] == 404
    assert (await api.call("GET", "/api/live/nope/viewers"))[0] == 400
