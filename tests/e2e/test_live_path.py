"""OBS → nginx-rtmp → gated HLS, end to end: ffmpeg publishes, nginx serves, the app decides."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import Api, Nginx
from tests.streaming import obs, until

pytestmark = pytest.mark.e2e


async def fetch(api: Api, url: str) -> tuple[int, bytes]:
    async with api.session.get(url) as resp:
        return resp.status, await resp.read()


def gated(nginx: Nginx, grant: dict[str, Any]) -> str:
    return nginx.http_url + urlsplit(grant["url"]).path


async def test_stream_is_published_gated_and_ended(api: Api, nginx: Nginx, clock) -> None:  # type: ignore[no-untyped-def]
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    other = await api.create_event(artist["access"])
    fan = await api.register("fan")

    async with obs(nginx.rtmp_url, event["stream_key"]) as ffmpeg:
        playlist = nginx.hls_dir / event["id"] / "index.m3u8"

        async def ready() -> bool:
            return playlist.exists() and ".ts" in playlist.read_text()

        await until(ready, 30, "HLS playlist under the event id")
        assert not (nginx.hls_dir / event["stream_key"]).exists()
        status, live = await api.call("GET", f"/api/live/{event['id']}")
        assert live["status"] == "live" and live["publishing"]

        status, grant = await api.call(
            "POST", f"/api/live/{event['id']}/playback", token=fan["access"]
        )
        assert status == 200
        url = gated(nginx, grant)
        status, body = await fetch(api, url)
        assert status == 200 and body.startswith(b"#EXTM3U")
        segment = next(line for line in body.decode().splitlines() if line.endswith(".ts"))
        status, data = await fetch(api, url.rsplit("/", 1)[0] + "/" + segment)
        assert status == 200 and data[:1] == b"\x47"  # MPEG-TS sync byte

        token = grant["token"]
        forged = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
        base = nginx.http_url + "/play/{}/{}/index.m3u8"
        status, _ = await fetch(api, base.format(forged, event["id"]))
        assert status == 403
        status, other_grant = await api.call(
            "POST", f"/api/live/{other['id']}/playback", token=fan["access"]
        )
        status, _ = await fetch(api, base.format(other_grant["token"], event["id"]))
        assert status == 403, "a token for event B must not open event A"
        status, _ = await fetch(api, nginx.http_url + f"/play/x/{event['id']}/../../nginx.conf")
        assert status in (400, 403, 404)

        # Expired: a token never fetched before, so no cached allow can mask it.
        status, fresh = await api.call(
            "POST", f"/api/live/{event['id']}/playback", token=fan["access"]
        )
        clock.advance(3600)
        status, _ = await fetch(api, gated(nginx, fresh))
        assert status == 403
        clock.advance(-3600)

        # Revoked: allowed (and cached) before; refused once the short allow-cache lapses.
        status, _ = await fetch(api, url)
        assert status == 200
        status, _ = await api.call(
            "DELETE", f"/api/playback/{grant['session_id']}", token=fan["access"]
        )
        assert status == 200
        started = time.monotonic()

        async def refused() -> bool:
            return (await fetch(api, url))[0] == 403

        await until(refused, nginx.cache_seconds + 3, "revoked token to be refused")
        assert time.monotonic() - started <= nginx.cache_seconds + 3

        # A second OBS with the same key while the first is live is dropped by nginx.
        async with obs(nginx.rtmp_url, event["stream_key"]) as second:
            code = await asyncio.wait_for(second.wait(), 30)
            assert code != 0
        assert ffmpeg.returncode is None, "the first publisher keeps streaming"

    async def ended() -> bool:
        _status, body = await api.call("GET", f"/api/live/{event['id']}")
        return bool(body["status"] == "ended")

    await until(ended, 15, "on_publish_done to end the event")


async def test_wrong_key_publish_is_refused(api: Api, nginx: Nginx) -> None:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    async with obs(nginx.rtmp_url, "live_not-a-real-key") as ffmpeg:
        code = await asyncio.wait_for(ffmpeg.wait(), 30)
    assert code != 0
    assert not (nginx.hls_dir / "live_not-a-real-key").exists()
    _status, body = await api.call("GET", f"/api/live/{event['id']}")
    assert body["status"] == "scheduled"


def raw_get(base: str, path: str) -> tuple[int, bytes]:
    """A GET with the path sent byte for byte (clients would normalise it)."""
    import http.client

    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=5)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


async def test_encoded_traversal_cannot_reach_another_event(api: Api, nginx: Nginx) -> None:
    artist = await api.register("artist")
    free = await api.create_event(artist["access"])
    paid = await api.create_event(artist["access"], price=4999)
    fan = await api.register("fan")
    status, grant = await api.call("POST", f"/api/live/{free['id']}/playback", token=fan["access"])
    assert status == 200
    for event, text in ((free, "#EXTM3U\n#FREE\n"), (paid, "#EXTM3U\n#PAID-SECRET\n")):
        folder = nginx.hls_dir / event["id"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.m3u8").write_text(text)
    tok, a, b = grant["token"], free["id"], paid["id"]
    status, body = await asyncio.to_thread(raw_get, nginx.http_url, f"/play/{tok}/{a}/index.m3u8")
    assert status == 200 and b"#FREE" in body  # also leaves an allow in nginx's cache
    attacks = [
        f"/play/{tok}/{a}/x%2F..%2F..%2F..%2F{tok}%2F{b}%2Findex.m3u8",
        f"/play/{tok}/{a}/x%2f..%2f..%2f..%2f{tok}%2f{b}%2findex.m3u8",
        f"/play/{tok}/{a}/..%2F..%2F{b}%2Findex.m3u8",
        f"/play/{tok}/{a}/%2e%2e/%2e%2e/{b}/index.m3u8",
        f"/play/{tok}/{a}/../{b}/index.m3u8",
        f"/play/{tok}/{a}//../../{tok}/{b}/index.m3u8",
        f"/replay/{tok}/{a}/x%2F..%2F..%2F..%2F{tok}%2F{b}%2Findex.m3u8",
        f"/play/{tok}/{b}/index.m3u8",
    ]
    for path in attacks:
        status, body = await asyncio.to_thread(raw_get, nginx.http_url, path)
        assert status in (400, 403, 404) and b"SECRET" not in body, (path, status, body)
