"""Artist analytics from the rollups: views, unique viewers, watch time, likes, followers, money."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from server.clock import Clock
from tests.conftest import Api
from tests.media.engage import device, view
from tests.videos import ready_video

WATCH = "/api/recommendation/video/{}/watchtime"


async def report(api: Api, token: str, start: str, end: str, bucket: str) -> dict[str, Any]:
    status, body = await api.call(
        "GET", f"/api/artists/me/analytics?from={start}&to={end}&bucket={bucket}", token=token
    )
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def totals(body: dict[str, Any], name: str) -> float:
    return sum(b[name] for b in body["buckets"])


async def test_the_artist_sees_what_fans_did_per_bucket(api: Api, clock: Clock) -> None:
    artist = await api.register("artist")
    big = await ready_video(api, artist["access"], title="big", duration_s=100.0)
    small = await ready_video(api, artist["access"], title="small", duration_s=100.0)
    fans = [await api.register("fan") for _ in range(2)]
    for fan in fans:
        await view(api, big["id"], token=fan["access"])
        await api.call(
            "POST",
            f"/api/recommendation/video/{big['id']}/like",
            token=fan["access"],
            json={"liked": True},
        )
        await api.call("POST", f"/api/artists/{artist['user']['id']}/follow", token=fan["access"])
    cap = float(big["duration_s"])
    for part in (cap * 0.4, cap * 0.9):  # the second report is capped at the duration
        await api.call(
            "POST", WATCH.format(big["id"]), token=fans[0]["access"], json={"secondsWatched": part}
        )
    # A device views twice within the window and once more after it: two views, one viewer.
    one = device()
    await view(api, small["id"], device=one)
    await view(api, small["id"], device=one)
    today = clock.now().date()
    before = await report(api, artist["access"], str(today - timedelta(days=1)), str(today), "day")
    clock.advance(31 * 60)
    await view(api, small["id"], device=one)
    now = clock.now().date()
    start, end = str(today - timedelta(days=1)), str(now + timedelta(days=1))
    token = (
        await api.call(
            "POST",
            "/api/auth/login",
            json={"email": artist["email"], "password": artist["password"]},
        )
    )[1]["access"]
    daily = await report(api, token, start, end, "day")
    assert [b["start"][:10] for b in daily["buckets"]] == [
        str(today - timedelta(days=1 - n)) for n in range(len(daily["buckets"]))
    ]
    assert totals(daily, "views") == 4
    assert totals(daily, "watch_seconds") == pytest.approx(cap)
    assert totals(daily, "likes") == 2
    assert totals(daily, "new_followers") == 2
    assert totals(before, "unique_viewers") == 3
    if now == today:
        assert totals(daily, "unique_viewers") == 3
    weekly = await report(api, token, start, end, "week")
    assert totals(weekly, "views") == 4
    assert all(b["tips"] == {"count": 0, "amount": 0, "currency": None} for b in weekly["buckets"])
    assert all(b["sales"]["count"] == 0 for b in weekly["buckets"])
    top = daily["top_videos"]
    # Equal views: the one watched longer leads.
    assert [(t["title"], t["views"]) for t in top] == [("big", 2), ("small", 2)]
    assert top[0]["likes"] == 2 and top[0]["watch_seconds"] == pytest.approx(cap)


async def test_unfollows_and_unlikes_count_as_net_changes(api: Api, clock: Clock) -> None:
    artist = await api.register("artist")
    video = await ready_video(api, artist["access"])
    fan = await api.register("fan")
    like = f"/api/recommendation/video/{video['id']}/like"
    follow = f"/api/artists/{artist['user']['id']}/follow"
    await api.call("POST", like, token=fan["access"], json={"liked": True})
    await api.call("POST", like, token=fan["access"], json={"liked": False})
    await api.call("POST", follow, token=fan["access"])
    await api.call("DELETE", follow, token=fan["access"])
    await api.call("POST", follow, token=fan["access"])
    day = str(clock.now().date())
    body = await report(api, artist["access"], day, day, "day")
    assert (totals(body, "likes"), totals(body, "new_followers")) == (0, 1)


async def test_analytics_are_for_artists_only(api: Api) -> None:
    fan = await api.register("fan")
    query = "/api/artists/me/analytics?from=2030-01-01&to=2030-01-02"
    assert (await api.call("GET", query))[0] == 401
    assert (await api.call("GET", query, token=fan["access"]))[0] == 403


@pytest.mark.parametrize(
    "query",
    [
        "from=2030-01-02&to=2030-01-01",
        "from=2030-01-01&to=2031-06-01",
        "from=2030-02-30&to=2030-03-01",
        "from=2030-1-1&to=2030-01-02",
        "from=2030-01-01&to=2030-01-02&bucket=month",
        "from=2030-01-01",
        "to=2030-01-01",
        "from=2030-01-01&to=2030-01-02&extra=1",
        "from=yesterday&to=today",
    ],
)
async def test_bad_ranges_are_refused(api: Api, query: str) -> None:
    artist = await api.register("artist")
    status, body = await api.call(
        "GET", f"/api/artists/me/analytics?{query}", token=artist["access"]
    )
    assert status == 400, body
    assert body["error"]["code"] in ("invalid_field", "invalid_range")


async def test_an_empty_range_has_every_bucket_at_zero(api: Api) -> None:
    artist = await api.register("artist")
    body = await report(api, artist["access"], "2030-01-01", "2030-01-31", "week")
    # 2029-12-31 is the Monday of the week holding 2030-01-01.
    assert [b["start"][:10] for b in body["buckets"]] == [
        "2029-12-31",
        "2030-01-07",
        "2030-01-14",
        "2030-01-21",
        "2030-01-28",
    ]
    assert all(b["views"] == 0 and b["unique_viewers"] == 0 for b in body["buckets"])
    assert body["top_videos"] == []
