"""Views, watch time and likes through the seed's routes: the view rule, caps, idempotence."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from server.clock import Clock
from tests.conftest import Api
from tests.media.engage import artist_with_video, counts, device, view

WATCH = "/api/recommendation/video/{}/watchtime"
LIKE = "/api/recommendation/video/{}/like"


async def test_a_view_counts_once_per_viewer_per_30_minutes(api: Api, clock: Clock) -> None:
    _, video = await artist_with_video(api)
    fan = await api.register("fan")
    assert await view(api, video["id"], token=fan["access"]) == (200, {"counted": True, "views": 1})
    assert await view(api, video["id"], token=fan["access"]) == (
        200,
        {"counted": False, "views": 1},
    )
    # A device id does not make a signed-in viewer someone else.
    status, body = await view(api, video["id"], token=fan["access"], device=device())
    assert (status, body["counted"]) == (200, False)
    # Access tokens expire within the window, so time is moved for an anonymous device.
    one = device()
    assert (await view(api, video["id"], device=one))[1] == {"counted": True, "views": 2}
    clock.advance(29 * 60)
    assert (await view(api, video["id"], device=one))[1] == {"counted": False, "views": 2}
    clock.advance(2 * 60)
    assert (await view(api, video["id"], device=one))[1] == {"counted": True, "views": 3}
    assert (await view(api, video["id"], device=one))[1] == {"counted": False, "views": 3}


async def test_anonymous_views_count_per_device_and_else_per_address(api: Api) -> None:
    _, video = await artist_with_video(api)
    one, two = device(), device()
    assert (await view(api, video["id"], device=one))[1]["counted"] is True
    assert (await view(api, video["id"], device=one))[1]["counted"] is False
    assert (await view(api, video["id"], device=two))[1]["counted"] is True
    assert (await view(api, video["id"]))[1] == {"counted": True, "views": 3}
    assert (await view(api, video["id"]))[1] == {"counted": False, "views": 3}


@pytest.mark.parametrize("bad", ["short", "x" * 129, "has space!", "emoji-\u2603-device"])
async def test_a_malformed_device_id_is_refused(api: Api, bad: str) -> None:
    _, video = await artist_with_video(api)
    status, body = await view(api, video["id"], device=bad)
    assert status == 400 and body["error"]["code"] == "invalid_device_id", body
    assert (await counts(api, video["id"])).views == 0


async def test_500_concurrent_views_from_distinct_viewers_count_500(api: Api) -> None:
    _, video = await artist_with_video(api)
    replies = await asyncio.gather(*(view(api, video["id"], device=device()) for _ in range(500)))
    assert all(status == 200 and body["counted"] for status, body in replies)
    assert (await counts(api, video["id"])).views == 500
    assert sorted(body["views"] for _, body in replies) == list(range(1, 501))


async def test_the_same_viewer_50_times_at_once_counts_once(api: Api) -> None:
    _, video = await artist_with_video(api)
    fan = await api.register("fan")
    replies = await asyncio.gather(
        *(view(api, video["id"], token=fan["access"]) for _ in range(50))
    )
    assert [body["counted"] for _, body in replies].count(True) == 1
    assert (await counts(api, video["id"])).views == 1
    one = device()
    await asyncio.gather(*(view(api, video["id"], device=one) for _ in range(50)))
    assert (await counts(api, video["id"])).views == 2


async def test_watch_time_is_aggregated_per_viewer_and_capped_at_the_duration(api: Api) -> None:
    _, video = await artist_with_video(api, duration_s=10.0)
    cap = float(video["duration_s"])  # the clip's real length once uploads make the videos
    fan, other = await api.register("fan"), await api.register("fan")
    url = WATCH.format(video["id"])
    part = cap * 0.6
    status, body = await api.call("POST", url, token=fan["access"], json={"secondsWatched": part})
    assert (status, body) == (200, {"watched_seconds": part, "credited_seconds": part})
    status, body = await api.call("POST", url, token=fan["access"], json={"secondsWatched": part})
    assert status == 200 and body["watched_seconds"] == cap
    assert body["credited_seconds"] == pytest.approx(cap - part)
    status, body = await api.call("POST", url, token=fan["access"], json={"secondsWatched": 3})
    assert (status, body) == (200, {"watched_seconds": cap, "credited_seconds": 0.0})
    await api.call("POST", url, token=other["access"], json={"secondsWatched": cap / 4})
    assert (await counts(api, video["id"])).watch_seconds == pytest.approx(cap * 1.25)


async def test_concurrent_watch_reports_never_pass_the_cap(api: Api) -> None:
    _, video = await artist_with_video(api, duration_s=30.0)
    cap = float(video["duration_s"])
    fan = await api.register("fan")
    url = WATCH.format(video["id"])
    step = cap / 20
    await asyncio.gather(
        *(
            api.call("POST", url, token=fan["access"], json={"secondsWatched": step})
            for _ in range(60)
        )
    )
    assert (await counts(api, video["id"])).watch_seconds == pytest.approx(cap)


@pytest.mark.parametrize(
    "body",
    [
        {"secondsWatched": -1},
        {"secondsWatched": -0.001},
        {"secondsWatched": 1e12},
        {"secondsWatched": 86401},
        {"secondsWatched": "10"},
        {"secondsWatched": True},
        {"secondsWatched": None},
        {"seconds_watched": 5},
        {},
        {"secondsWatched": 5, "extra": 1},
        [5],
    ],
)
async def test_negative_or_absurd_watch_time_is_refused_and_changes_nothing(
    api: Api, body: object
) -> None:
    _, video = await artist_with_video(api)
    fan = await api.register("fan")
    status, reply = await api.call(
        "POST", WATCH.format(video["id"]), token=fan["access"], json=body
    )
    assert status == 400, reply
    assert set(reply["error"]) >= {"code", "message"}
    assert (await counts(api, video["id"])).watch_seconds == 0


async def test_a_report_above_the_configured_maximum_is_refused(api: Api) -> None:
    _, video = await artist_with_video(api)
    status, reply = await api.call(
        "POST",
        WATCH.format(video["id"]),
        json={"secondsWatched": 21601},
        headers={"X-Device-Id": device()},
    )
    assert (status, reply["error"]["code"]) == (400, "invalid_watch_time")


async def test_likes_are_idempotent_even_at_once(api: Api) -> None:
    _, video = await artist_with_video(api)
    fan = await api.register("fan")
    url = LIKE.format(video["id"])
    replies = await asyncio.gather(
        *(api.call("POST", url, token=fan["access"], json={"liked": True}) for _ in range(20))
    )
    assert all(r == (200, {"liked": True, "likes": 1}) for r in replies), replies
    assert await api.call("POST", url, token=fan["access"], json={"liked": False}) == (
        200,
        {"liked": False, "likes": 0},
    )
    assert await api.call("POST", url, token=fan["access"], json={"liked": False}) == (
        200,
        {"liked": False, "likes": 0},
    )
    other = await api.register("fan")
    await api.call("POST", url, token=other["access"], json={"liked": True})
    await api.call("POST", url, token=fan["access"], json={"liked": True})
    assert (await counts(api, video["id"])).likes == 2
    # The video's own reply and its artist's list carry the same counters.
    status, shown = await api.call("GET", f"/api/videos/{video['id']}")
    assert status == 200 and shown["likes"] == 2, shown
    status, listed = await api.call("GET", f"/api/artists/{video['artist_id']}/videos")
    assert status == 200
    assert [v["likes"] for v in listed["items"] if v["id"] == video["id"]] == [2], listed


async def test_liking_needs_an_account_and_a_boolean(api: Api) -> None:
    _, video = await artist_with_video(api)
    url = LIKE.format(video["id"])
    assert (await api.call("POST", url, json={"liked": True}))[0] == 401
    fan = await api.register("fan")
    for body in ({"liked": "true"}, {"liked": 1}, {}, {"liked": True, "x": 1}):
        status, _ = await api.call("POST", url, token=fan["access"], json=body)
        assert status == 400, body
    assert (await counts(api, video["id"])).likes == 0


@pytest.mark.parametrize("visibility", ["private", "followers", "subscribers"])
async def test_a_video_the_viewer_cannot_see_answers_exactly_like_a_missing_one(
    api: Api, visibility: str
) -> None:
    artist, video = await artist_with_video(api, visibility=visibility)
    fan = await api.register("fan")
    missing = str(uuid.uuid4())
    for path in (LIKE, WATCH):
        body = {"liked": True} if path == LIKE else {"secondsWatched": 5}
        hidden = await api.call("POST", path.format(video["id"]), token=fan["access"], json=body)
        absent = await api.call("POST", path.format(missing), token=fan["access"], json=body)
        assert hidden == absent
        assert hidden[0] == 404 and hidden[1]["error"]["code"] == "video_not_found"
    hidden = await view(api, video["id"], token=fan["access"])
    assert hidden == await view(api, missing, token=fan["access"])
    assert await counts(api, video["id"]) == await counts(api, missing)
    assert (await counts(api, video["id"])).views == 0
    # Its artist sees it.
    status, _ = await view(api, video["id"], token=artist["access"])
    assert status == 200


async def test_followers_see_followers_only_videos(api: Api) -> None:
    artist, video = await artist_with_video(api, visibility="followers")
    fan = await api.register("fan")
    assert (await view(api, video["id"], token=fan["access"]))[0] == 404
    status, _ = await api.call(
        "POST", f"/api/artists/{artist['user']['id']}/follow", token=fan["access"]
    )
    assert status == 200
    assert (await view(api, video["id"], token=fan["access"]))[1]["counted"] is True


@pytest.mark.parametrize("video_id", ["nope", "1234", "00000000-0000-0000-0000-00000000000g"])
async def test_a_malformed_video_id_is_a_400(api: Api, video_id: str) -> None:
    status, body = await view(api, video_id, device=device())
    assert status == 400 and body["error"]["code"] == "invalid_id"
