"""The feeds: trending by decayed heat, following, discovery ranking, keyset pages, live cards."""

from __future__ import annotations

import json
import uuid
from typing import Any

from server.accounts.service import NAMES_TTL_S
from server.clock import Clock
from server.keys import DB
from server.live import service as live
from server.live import store as live_store
from tests.conftest import Api
from tests.media.engage import artist_with_video, device, view
from tests.videos import ready_video


async def walk(
    api: Api, feed: str, token: str | None = None, limit: int = 7
) -> list[dict[str, Any]]:
    """Every item of a feed, page by page, checking each page's size."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(500):
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, body = await api.call("GET", f"/api/feed/{feed}{query}", token=token)
        assert status == 200, body
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next"]
        if cursor is None:
            return items
    raise AssertionError("the feed never ended")


def video_ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["video"]["id"] for i in items if i["type"] == "video"]


async def test_trending_orders_by_engagement_and_pages_without_repeats(api: Api) -> None:
    artist = await api.register("artist")
    cold = await ready_video(api, artist["access"], title="cold")
    warm = await ready_video(api, artist["access"], title="warm")
    hot = await ready_video(api, artist["access"], title="hot")
    for _ in range(3):
        await view(api, warm["id"], device=device())
    for _ in range(6):
        await view(api, hot["id"], device=device())
    fan = await api.register("fan")
    await api.call(
        "POST",
        f"/api/recommendation/video/{hot['id']}/like",
        token=fan["access"],
        json={"liked": True},
    )
    items = await walk(api, "trending", limit=3)
    ids = video_ids(items)
    assert len(ids) == len(set(ids)), "a video appeared twice"
    ours = [i for i in ids if i in (cold["id"], warm["id"], hot["id"])]
    assert ours == [hot["id"], warm["id"], cold["id"]]
    first = next(i for i in items if i["type"] == "video" and i["video"]["id"] == hot["id"])
    assert first["artist"] == {
        "id": artist["user"]["id"],
        "display_name": artist["user"]["display_name"],
    }
    assert first["video"]["title"] == "hot" and first["video"]["state"] == "ready"


async def test_watch_time_heats_a_video(api: Api) -> None:
    artist = await api.register("artist")
    a = await ready_video(api, artist["access"], duration_s=3600.0)
    b = await ready_video(api, artist["access"], duration_s=3600.0)
    for _ in range(2):
        await api.call(
            "POST",
            f"/api/recommendation/video/{a['id']}/watchtime",
            json={"secondsWatched": 1800},
            headers={"X-Device-Id": device()},
        )
    ids = video_ids(await walk(api, "trending", limit=50))
    assert ids.index(a["id"]) < ids.index(b["id"])


async def test_only_public_videos_trend_and_deleted_ones_leave(api: Api) -> None:
    artist = await api.register("artist")
    private = await ready_video(api, artist["access"], visibility="private")
    followers = await ready_video(api, artist["access"], visibility="followers")
    public = await ready_video(api, artist["access"])
    ids = video_ids(await walk(api, "trending", limit=50))
    assert public["id"] in ids and private["id"] not in ids and followers["id"] not in ids
    status, _ = await api.call("DELETE", f"/api/videos/{public['id']}", token=artist["access"])
    assert status in (200, 204)
    assert public["id"] not in video_ids(await walk(api, "trending", limit=50))


async def test_following_shows_the_newest_of_followed_artists_only(api: Api) -> None:
    followed, other = await api.register("artist"), await api.register("artist")
    fan = await api.register("fan")
    assert (await api.call("GET", "/api/feed/following"))[0] == 401
    older = await ready_video(api, followed["access"])
    hidden = await ready_video(api, followed["access"], visibility="followers")
    newer = await ready_video(api, followed["access"])
    stranger = await ready_video(api, other["access"])
    await api.call("POST", f"/api/artists/{followed['user']['id']}/follow", token=fan["access"])
    ids = video_ids(await walk(api, "following", token=fan["access"], limit=2))
    assert ids == [newer["id"], hidden["id"], older["id"]]
    assert stranger["id"] not in ids
    await api.call("DELETE", f"/api/artists/{followed['user']['id']}/follow", token=fan["access"])
    assert await walk(api, "following", token=fan["access"]) == []


async def test_discovery_prefers_followed_artists_and_unseen_videos(api: Api) -> None:
    liked_artist, other = await api.register("artist"), await api.register("artist")
    fan = await api.register("fan")
    followed_video = await ready_video(api, liked_artist["access"])
    plain = await ready_video(api, other["access"])
    seen = await ready_video(api, other["access"])
    await api.call("POST", f"/api/artists/{liked_artist['user']['id']}/follow", token=fan["access"])
    # The seen video gets a view (heat +1) but loses the unseen bonus: it must rank lower.
    await view(api, seen["id"], token=fan["access"])
    ids = video_ids(await walk(api, "discovery", token=fan["access"], limit=4))
    assert len(ids) == len(set(ids))
    assert ids.index(followed_video["id"]) < ids.index(plain["id"]) < ids.index(seen["id"])
    anonymous = video_ids(await walk(api, "discovery", limit=50))
    assert {followed_video["id"], plain["id"], seen["id"]} <= set(anonymous)


async def test_discovery_shows_followers_only_videos_to_followers(api: Api) -> None:
    artist = await api.register("artist")
    fan = await api.register("fan")
    video = await ready_video(api, artist["access"], visibility="followers")
    assert video["id"] not in video_ids(await walk(api, "discovery", token=fan["access"], limit=50))
    await api.call("POST", f"/api/artists/{artist['user']['id']}/follow", token=fan["access"])
    assert video["id"] in video_ids(await walk(api, "discovery", token=fan["access"], limit=50))


async def test_live_events_on_air_lead_the_first_page_as_live_cards(api: Api) -> None:
    artist = await api.register("artist")
    fan = await api.register("fan")
    await ready_video(api, artist["access"])
    event = await api.create_event(artist["access"], price=0)
    started = await live.publish_started(api.app, event["stream_key"], "test-client")
    assert started is not None
    try:
        await api.call("POST", f"/api/artists/{artist['user']['id']}/follow", token=fan["access"])
        for feed in ("trending", "discovery", "following"):
            status, body = await api.call("GET", f"/api/feed/{feed}?limit=10", token=fan["access"])
            assert status == 200
            cards = [i for i in body["items"] if i["type"] == "live"]
            assert event["id"] in [c["event"]["id"] for c in cards], feed
            assert body["items"][: len(cards)] == cards
            assert len(cards) <= 5
            if body["next"]:
                status, later = await api.call(
                    "GET", f"/api/feed/{feed}?limit=10&cursor={body['next']}", token=fan["access"]
                )
                assert all(i["type"] == "video" for i in later["items"])
    finally:
        await live.publish_ended(api.app, event["id"], "test-client")
    status, body = await api.call("GET", "/api/feed/trending?limit=10")
    assert event["id"] not in [i["event"]["id"] for i in body["items"] if i["type"] == "live"]


async def test_a_show_ended_by_another_process_leaves_the_feeds_within_the_listing_bound(
    api: Api, clock: Clock
) -> None:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"], price=0)
    assert await live.publish_started(api.app, event["stream_key"], "test-client") is not None
    status, body = await api.call("GET", "/api/feed/trending?limit=10")
    assert event["id"] in [i["event"]["id"] for i in body["items"] if i["type"] == "live"]
    # Another app process ends the show: this one learns of it only from the database.
    async with api.app[DB].acquire() as conn:
        now = clock.now()
        assert await live_store.end_publish(conn, uuid.UUID(event["id"]), "test-client", now, now)
    clock.advance(live.ON_AIR_TTL_S)
    status, body = await api.call("GET", "/api/feed/trending?limit=10")
    assert status == 200
    assert event["id"] not in [i["event"]["id"] for i in body["items"] if i["type"] == "live"]


async def test_a_renamed_artist_shows_under_the_new_name_within_the_names_bound(
    api: Api, clock: Clock
) -> None:
    artist, video = await artist_with_video(api)

    def name_on(items: list[dict[str, Any]]) -> str:
        card = next(i for i in items if i["type"] == "video" and i["video"]["id"] == video["id"])
        return str(card["artist"]["display_name"])

    assert name_on(await walk(api, "trending", limit=50)) == artist["user"]["display_name"]
    # No route renames an account; an operator's edit in the database does.
    async with api.app[DB].acquire() as conn:
        await conn.execute(
            "UPDATE users SET display_name = 'Renamed' WHERE id = $1",
            uuid.UUID(artist["user"]["id"]),
        )
    clock.advance(NAMES_TTL_S)
    assert name_on(await walk(api, "trending", limit=50)) == "Renamed"


async def test_pages_are_utf8_json_that_keep_names_as_written(api: Api) -> None:
    artist = await api.register("artist", display_name="Béatrice «Vita Nova» Portinari")
    video = await ready_video(api, artist["access"])
    async with api.session.get(api.base_url + "/api/feed/trending?limit=1") as resp:
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        json.loads(await resp.read())
    card = next(
        i
        for i in await walk(api, "trending", limit=50)
        if i["type"] == "video" and i["video"]["id"] == video["id"]
    )
    assert card["artist"] == {
        "id": artist["user"]["id"],
        "display_name": "Béatrice «Vita Nova» Portinari",
    }


async def test_pages_hold_at_most_50_and_limits_are_checked(api: Api) -> None:
    await artist_with_video(api)
    for limit in ("0", "51", "-1", "abc", "1.5"):
        status, body = await api.call("GET", f"/api/feed/trending?limit={limit}")
        assert status == 400, (limit, body)
    status, body = await api.call("GET", "/api/feed/trending?limit=50")
    assert status == 200 and len(body["items"]) <= 50


async def test_an_edit_reindexes_without_losing_heat(api: Api) -> None:
    artist = await api.register("artist")
    hot = await ready_video(api, artist["access"], title="before")
    cold = await ready_video(api, artist["access"])
    for _ in range(5):
        await view(api, hot["id"], device=device())
    status, _ = await api.call(
        "PATCH", f"/api/videos/{hot['id']}", token=artist["access"], json={"title": "after"}
    )
    assert status == 200
    items = await walk(api, "trending", limit=50)
    ids = video_ids(items)
    assert ids.index(hot["id"]) < ids.index(cold["id"])
    assert (
        next(i for i in items if i["type"] == "video" and i["video"]["id"] == hot["id"])["video"][
            "title"
        ]
        == "after"
    )
    status, _ = await api.call(
        "PATCH", f"/api/videos/{hot['id']}", token=artist["access"], json={"visibility": "private"}
    )
    assert status == 200
    assert hot["id"] not in video_ids(await walk(api, "trending", limit=50))
    assert (await view(api, hot["id"], device=device()))[0] == 404
