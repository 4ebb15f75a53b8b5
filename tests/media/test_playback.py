"""Playback of videos through the real nginx gate: token kind `vod`, per video, per viewer."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from media.videos.processing import VIDEO_CONFIG
from server.keys import CONFIG
from server.playback import tokens
from tests.conftest import Api, Nginx
from tests.streaming import until
from tests.videos import clip, create_upload, patch, ready_video, settled


async def _fetch(api: Api, url: str) -> tuple[int, bytes]:
    async with api.session.get(url) as resp:
        return resp.status, await resp.read()


def _through(nginx: Nginx, url: str) -> str:
    return nginx.http_url + urlsplit(url).path


async def _grant(api: Api, video_id: str, token: str | None = None) -> tuple[int, Any]:
    return await api.call("POST", f"/api/videos/{video_id}/playback", token=token)


async def test_a_public_video_plays_through_nginx_with_its_token_only(
    api: Api, nginx: Nginx
) -> None:
    artist = await api.register("artist")
    video = await ready_video(api, artist["access"])
    other = await ready_video(api, artist["access"])
    status, grant = await _grant(api, video["id"])  # anonymous: the video is public
    assert status == 200, grant
    master_url = _through(nginx, grant["url"])
    assert urlsplit(master_url).path.startswith("/vod/")
    status, master = await _fetch(api, master_url)
    assert status == 200 and b"#EXT-X-STREAM-INF" in master, master
    rung = next(line for line in master.decode().splitlines() if line.endswith(".m3u8"))
    base = master_url.rsplit("/", 1)[0]
    status, playlist = await _fetch(api, f"{base}/{rung}")
    assert status == 200 and b"#EXT-X-ENDLIST" in playlist
    segment = next(line for line in playlist.decode().splitlines() if line.endswith(".ts"))
    status, data = await _fetch(api, f"{base}/{segment}")
    assert status == 200 and data[:1] == b"G"  # an MPEG-TS packet's sync byte

    # Every viewer of a public video shares one token (one gate-cache entry).
    fan = await api.register("fan")
    assert (await _grant(api, video["id"], fan["access"]))[1]["url"] == grant["url"]

    token = urlsplit(grant["url"]).path.split("/")[2]
    refused = [
        f"{nginx.http_url}/vod/{token}/{other['id']}/index.m3u8",  # another video's token
        f"{nginx.http_url}/vod/{'A' * len(token)}/{video['id']}/index.m3u8",  # forged
        f"{nginx.http_url}/vod/{video['id']}/index.m3u8",  # none
        f"{nginx.http_url}/replay/{token}/{video['id']}/index.m3u8",  # a vod token elsewhere
        f"{nginx.http_url}/vod/{token}/{video['id']}/..%2F..%2Fnginx.conf",
    ]
    for url in refused:
        status, _ = await _fetch(api, url)
        assert status in (403, 404), (url, status)


async def test_a_live_token_does_not_open_a_video(api: Api, nginx: Nginx) -> None:
    artist = await api.register("artist")
    video = await ready_video(api, artist["access"])
    cfg = api.app[CONFIG]
    video_id = uuid.UUID(video["id"])
    claims = tokens.PlaybackClaims(video_id, video_id, video_id, 2**40, "live")
    token = tokens.sign(cfg.playback_secret.encode(), claims)
    status, _ = await _fetch(api, f"{nginx.http_url}/vod/{token}/{video['id']}/index.m3u8")
    assert status == 403


async def test_private_videos_play_for_their_artist_only(api: Api, nginx: Nginx) -> None:
    artist = await api.register("artist")
    video = await ready_video(api, artist["access"], visibility="private")
    for who in (
        None,
        (await api.register("fan"))["access"],
        (await api.register("artist"))["access"],
    ):
        status, body = await _grant(api, video["id"], who)
        assert status == 404 and body["error"]["code"] == "video_not_found"
        status, body = await api.call("GET", f"/api/videos/{video['id']}", token=who)
        assert status == 404 and body["error"]["code"] == "video_not_found"
    status, grant = await _grant(api, video["id"], artist["access"])
    assert status == 200
    status, master = await _fetch(api, _through(nginx, grant["url"]))
    assert status == 200 and b"#EXTM3U" in master
    # Followers-only and subscriber-only videos are gated the same way for a stranger.
    for visibility in ("followers", "subscribers"):
        status, _ = await api.call(
            "PATCH",
            f"/api/videos/{video['id']}",
            token=artist["access"],
            json={"visibility": visibility},
        )
        assert status == 200
        fan = await api.register("fan")
        assert (await _grant(api, video["id"], fan["access"]))[0] == 404


async def test_a_deleted_video_is_gone_everywhere(api: Api, nginx: Nginx) -> None:
    artist = await api.register("artist")
    video = await ready_video(api, artist["access"])
    status, grant = await _grant(api, video["id"])
    assert status == 200
    folder = api.app[VIDEO_CONFIG].videos_dir / video["id"]
    assert folder.is_dir()
    status, _ = await api.call("DELETE", f"/api/videos/{video['id']}", token=artist["access"])
    assert status == 204
    for who in (None, artist["access"]):
        assert (await api.call("GET", f"/api/videos/{video['id']}", token=who))[0] == 404
        assert (await _grant(api, video["id"], who))[0] == 404
    assert (await api.call("DELETE", f"/api/videos/{video['id']}", token=artist["access"]))[
        0
    ] == 404

    async def removed() -> bool:
        return not folder.exists()

    await until(removed, 15, "the ladder to be removed")
    status, _ = await _fetch(api, _through(nginx, grant["url"]))
    assert status == 404


async def test_chunks_bigger_than_the_api_body_limit_pass_through_nginx(
    api: Api, nginx: Nginx
) -> None:
    artist = await api.register("artist")
    data = await clip(6)
    assert len(data) > api.app[CONFIG].max_body_bytes  # nginx's limit for every other route
    front = Api(api.session, nginx.http_url, api.app)
    status, created, body = await create_upload(front, artist["access"], len(data))
    assert status == 201, body
    status, headers, body = await patch(front, artist["access"], created["Location"], 0, data)
    assert status == 204, body
    assert int(headers["Upload-Offset"]) == len(data)
    video = await settled(api, artist["access"], created["Video-Id"])
    assert video["state"] == "ready", video
