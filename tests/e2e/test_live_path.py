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

        status, grant = await api.call("POST", f"/api/live/{event['id']}/playback", token=fan["access"])
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
        status, other_grant = await api.call("POST", f"/api/live/{other['id']}/playback",
                                             token=fan["access"])
        status, _ = await fetch(api, base.format(other_grant["token"], event["id"]))
        assert status == 403, "a token for event B must not open event A"
        status, _ = await fetch(api, nginx.http_url + f"/play/x/{event['id']}/../../nginx.conf")
        assert status in (400, 403, 404)

        # Expired: a token never fetched before, so no cached allow can mask it.
        status, fresh = await api.call("POST", f"/api/live/{event['id']}/playback", token=fan["access"])
        clock.advance(3600)
        status, _ = await fetch(api, gated(nginx, fresh))
        assert status == 403
        clock.advance(-3600)

        # Revoked: allowed (and cached) before; refused once the short allow-cache lapses.
        status, _ = await fetch(api, url)
        assert status == 200
        status, _ = await api.call("DELETE", f"/api/playback/{grant['session_id']}", token=fan["access"])
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
        status, body = await api.call("GET", f"/api/live/{event['id']}")
        return bool(body["status"] == "ended")

    await until(ended, 15, "on_publish_done to end the event")


async def test_wrong_key_publish_is_refused(api: Api, nginx: Nginx) -> None:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    async with obs(nginx.rtmp_url, "live_not-a-real-key") as ffmpeg:
        code = await asyncio.wait_for(ffmpeg.wait(), 30)
    assert code != 0
    assert not (nginx.hls_dir / "live_not-a-real-key").exists()
    status, body = await api.call("GET", f"/api/live/{event['id']}")
    assert body["status"] == "scheduled"
