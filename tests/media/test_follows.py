"""Follows and artist profiles."""

from __future__ import annotations

import asyncio
import uuid

from tests.conftest import Api
from tests.videos import ready_video


def follow_path(artist: dict[str, object]) -> str:
    user = artist["user"]
    assert isinstance(user, dict)
    return f"/api/artists/{user['id']}/follow"


async def test_follow_and_unfollow_are_idempotent_and_counted(api: Api) -> None:
    artist = await api.register("artist")
    fan = await api.register("fan")
    path = follow_path(artist)
    assert await api.call("POST", path, token=fan["access"]) == (
        200,
        {"following": True, "followers": 1},
    )
    assert await api.call("POST", path, token=fan["access"]) == (
        200,
        {"following": True, "followers": 1},
    )
    status, profile = await api.call(
        "GET", f"/api/artists/{artist['user']['id']}", token=fan["access"]
    )
    assert status == 200 and profile["following"] is True and profile["followers"] == 1
    assert await api.call("DELETE", path, token=fan["access"]) == (
        200,
        {"following": False, "followers": 0},
    )
    assert await api.call("DELETE", path, token=fan["access"]) == (
        200,
        {"following": False, "followers": 0},
    )
    status, profile = await api.call(
        "GET", f"/api/artists/{artist['user']['id']}", token=fan["access"]
    )
    assert profile["following"] is False and profile["followers"] == 0


async def test_concurrent_follows_count_exactly(api: Api) -> None:
    artist = await api.register("artist")
    fans = await asyncio.gather(*(api.register("fan") for _ in range(30)))
    path = follow_path(artist)
    await asyncio.gather(*(api.call("POST", path, token=f["access"]) for f in fans))
    # One fan, many times at once.
    await asyncio.gather(*(api.call("POST", path, token=fans[0]["access"]) for _ in range(20)))
    status, profile = await api.call("GET", f"/api/artists/{artist['user']['id']}")
    assert status == 200
    assert profile["followers"] == 30 and profile["following"] is False
    await asyncio.gather(*(api.call("DELETE", path, token=f["access"]) for f in fans[:10] * 2))
    _status, profile = await api.call("GET", f"/api/artists/{artist['user']['id']}")
    assert profile["followers"] == 20


async def test_only_artists_can_be_followed_and_not_by_themselves(api: Api) -> None:
    artist = await api.register("artist")
    fan = await api.register("fan")
    status, body = await api.call("POST", follow_path(fan), token=artist["access"])
    assert (status, body["error"]["code"]) == (404, "artist_not_found")
    missing = f"/api/artists/{uuid.uuid4()}/follow"
    assert (await api.call("POST", missing, token=fan["access"]))[0] == 404
    status, body = await api.call("POST", follow_path(artist), token=artist["access"])
    assert (status, body["error"]["code"]) == (400, "cannot_follow_self")
    assert (await api.call("POST", follow_path(artist)))[0] == 401
    assert (await api.call("POST", "/api/artists/not-an-id/follow", token=fan["access"]))[0] == 400


async def test_a_profile_shows_the_videos_the_viewer_may_see_and_upcoming_events(
    api: Api,
) -> None:
    artist = await api.register("artist")
    fan = await api.register("fan")
    public = await ready_video(api, artist["access"], title="open")
    private = await ready_video(api, artist["access"], visibility="private")
    followers = await ready_video(api, artist["access"], visibility="followers")
    event = await api.create_event(artist["access"], title="Tonight")
    status, profile = await api.call("GET", f"/api/artists/{artist['user']['id']}")
    assert status == 200
    assert profile["display_name"] == artist["user"]["display_name"]
    assert [v["id"] for v in profile["videos"]] == [public["id"]]
    assert profile["videos"][0]["title"] == "open"
    assert [e["id"] for e in profile["upcoming_events"]] == [event["id"]]
    assert "stream_key" not in profile["upcoming_events"][0]
    await api.call("POST", follow_path(artist), token=fan["access"])
    status, profile = await api.call(
        "GET", f"/api/artists/{artist['user']['id']}", token=fan["access"]
    )
    assert [v["id"] for v in profile["videos"]] == [followers["id"], public["id"]]
    status, own = await api.call(
        "GET", f"/api/artists/{artist['user']['id']}", token=artist["access"]
    )
    assert {v["id"] for v in own["videos"]} == {public["id"], private["id"], followers["id"]}


async def test_a_profile_of_no_artist_is_a_404(api: Api) -> None:
    fan = await api.register("fan")
    for artist_id in (uuid.uuid4(), fan["user"]["id"]):
        status, body = await api.call("GET", f"/api/artists/{artist_id}")
        assert (status, body["error"]["code"]) == (404, "artist_not_found")
