"""Feed cursors are opaque and signed: anything but an untouched cursor of the same listing is a 400."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from tests.conftest import Api
from tests.media.engage import artist_with_video
from tests.videos import ready_video


async def next_cursor(api: Api, feed: str, token: str | None = None) -> str:
    status, body = await api.call("GET", f"/api/feed/{feed}?limit=1", token=token)
    assert status == 200 and body["next"], body
    return str(body["next"])


def tampered(cursor: str) -> list[str]:
    """Cursors a client could make from a real one."""
    body, mac = cursor.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = dict(payload, i="00000000-0000-0000-0000-000000000000")
    forged_body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    return [
        f"{forged_body}.{mac}",
        f"{body}.{flipped}",
        body,
        f"{body}.",
        f".{mac}",
        f"{body}.{mac}.{mac}",
        "not-a-cursor",
        "%%%.***",
        base64.urlsafe_b64encode(b'{"f":"trending"}').decode() + "." + mac,
    ]


@pytest.mark.parametrize("feed", ["trending", "discovery", "following"])
async def test_tampered_cursors_are_refused(api: Api, feed: str) -> None:
    artist = await api.register("artist")
    fan = await api.register("fan")
    for _ in range(3):
        await ready_video(api, artist["access"])
    await api.call("POST", f"/api/artists/{artist['user']['id']}/follow", token=fan["access"])
    cursor = await next_cursor(api, feed, fan["access"])
    status, _ = await api.call(
        "GET", f"/api/feed/{feed}?limit=1&cursor={cursor}", token=fan["access"]
    )
    assert status == 200
    for bad in tampered(cursor):
        status, body = await api.call(
            "GET", f"/api/feed/{feed}?limit=1&cursor={quote(bad)}", token=fan["access"]
        )
        assert status == 400, (bad, body)
        assert body["error"]["code"] in ("invalid_cursor", "invalid_field"), body


async def test_a_cursor_only_continues_its_own_feed_and_viewer(api: Api) -> None:
    artist = await api.register("artist")
    fan, other = await api.register("fan"), await api.register("fan")
    for _ in range(3):
        await ready_video(api, artist["access"])
    await api.call("POST", f"/api/artists/{artist['user']['id']}/follow", token=fan["access"])
    await api.call("POST", f"/api/artists/{artist['user']['id']}/follow", token=other["access"])
    trending = await next_cursor(api, "trending", fan["access"])
    status, body = await api.call(
        "GET", f"/api/feed/discovery?cursor={trending}", token=fan["access"]
    )
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")
    mine = await next_cursor(api, "following", fan["access"])
    status, body = await api.call(
        "GET", f"/api/feed/following?cursor={mine}", token=other["access"]
    )
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")


async def test_a_comment_cursor_is_bound_to_its_video(api: Api) -> None:
    _, video = await artist_with_video(api)
    _, other = await artist_with_video(api)
    trending = await next_cursor(api, "trending")
    status, body = await api.call("GET", f"/api/videos/{video['id']}/comments?cursor={trending}")
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")
    assert (await api.call("GET", f"/api/videos/{other['id']}/comments?cursor=x.y"))[0] == 400
