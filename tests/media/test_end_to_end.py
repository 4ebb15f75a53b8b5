"""The video platform end to end on the real stack: an artist uploads over tus, the video is
processed into an HLS ladder that plays through nginx with a token, a fan follows, views,
watches, likes, comments and tips, the trending and following feeds show it, and the
artist's analytics count all of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from tests.chat.conftest import Client
from tests.conftest import Api, Clock, Nginx
from tests.streaming import until
from tests.videos import ready_video


async def _fetch(api: Api, url: str) -> tuple[int, bytes]:
    async with api.session.get(url) as resp:
        return resp.status, await resp.read()


async def test_upload_play_engage_tip_feeds_and_analytics(
    api: Api, nginx: Nginx, url: str, clients: Callable[[], Client], clock: Clock
) -> None:
    artist, fan = await api.register("artist"), await api.register("fan")
    artist_id = artist["user"]["id"]
    video = await ready_video(api, artist["access"], title="Inferno set", realm="inferno")
    vid = video["id"]

    # Playback through the nginx gate with a vod token: master, a rung, a segment.
    status, grant = await api.call("POST", f"/api/videos/{vid}/playback", token=fan["access"])
    assert status == 200, grant
    master_url = nginx.http_url + urlsplit(grant["url"]).path
    status, master = await _fetch(api, master_url)
    assert status == 200 and b"#EXT-X-STREAM-INF" in master
    rung = next(x for x in master.decode().splitlines() if x.endswith(".m3u8"))
    base = master_url.rsplit("/", 1)[0]
    status, playlist = await _fetch(api, f"{base}/{rung}")
    segment = next(x for x in playlist.decode().splitlines() if x.endswith(".ts"))
    status, data = await _fetch(api, f"{base}/{segment}")
    assert status == 200 and data[:1] == b"G"

    # The fan follows, views, watches, likes, comments and tips.
    token = fan["access"]
    assert (await api.call("POST", f"/api/artists/{artist_id}/follow", token=token))[0] == 200
    status, viewed = await api.call("POST", f"/api/recommendation/video/{vid}/view", token=token)
    assert status == 200 and viewed["counted"] is True, viewed
    status, _ = await api.call(
        "POST",
        f"/api/recommendation/video/{vid}/watchtime",
        token=token,
        json={"secondsWatched": 1.5},
    )
    assert status == 200
    status, liked = await api.call(
        "POST", f"/api/recommendation/video/{vid}/like", token=token, json={"liked": True}
    )
    assert status == 200 and liked == {"liked": True, "likes": 1}
    commenter = clients()
    await commenter.connect(url, token)
    assert (await commenter.call("join_video", {"video_id": vid}))["ok"] is True
    said = await commenter.call("comment", {"video_id": vid, "body": "what a set"})
    assert said["ok"] is True, said
    status, tip = await api.call(
        "POST",
        "/api/tips",
        token=token,
        json={"artistId": artist_id, "amount": 500, "currency": "EUR", "videoId": vid},
    )
    assert status == 201 and tip["status"] == "succeeded", tip

    status, shown = await api.call("GET", f"/api/videos/{vid}")
    assert status == 200 and (shown["views"], shown["likes"]) == (1, 1), shown
    status, comments = await api.call("GET", f"/api/videos/{vid}/comments")
    assert [c["body"] for c in comments["items"]] == ["what a set"]

    # The feeds show it: trending for anyone, following for the fan.
    async def in_feed(name: str, who: str | None) -> bool:
        status, page = await api.call("GET", f"/api/feed/{name}?limit=50", token=who)
        assert status == 200, page
        return any(i["type"] == "video" and i["video"]["id"] == vid for i in page["items"])

    assert await in_feed("trending", None)
    assert await in_feed("following", token)

    # The artist's analytics count all of it, the tip once posted.
    today = clock.now().date()
    path = (
        f"/api/artists/me/analytics?from={today - timedelta(days=1)}"
        f"&to={today + timedelta(days=1)}&bucket=day"
    )

    async def counted() -> dict[str, float] | None:
        status, body = await api.call("GET", path, token=artist["access"])
        assert status == 200, body
        sums = {
            k: sum(b[k] for b in body["buckets"])
            for k in ("views", "unique_viewers", "watch_seconds", "likes", "new_followers")
        }
        tips = sum(b["tips"]["amount"] for b in body["buckets"])
        if tips != 500:
            return None
        assert [t["video_id"] for t in body["top_videos"]][:1] == [vid], body["top_videos"]
        return sums

    assert await until(counted, 30, "the analytics to count the tip") == {
        "views": 1,
        "unique_viewers": 1,
        "watch_seconds": 1.5,
        "likes": 1,
        "new_followers": 1,
    }
