"""Through real nginx: refunds stop HLS tokens, replays are served and gated like live HLS.

Uses the session's `nginx` fixture (tests/conftest.py), which gates with the session app;
`tapp` shares its config, so the tokens `tapp` issues are the same tokens.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe
from aiohttp import web

from server.keys import CONFIG
from tests.conftest import Api, Nginx
from tests.streaming import obs, until
from tests.ticketing.conftest import buy, code_for, make_user, paid_event
from tests.ticketing.test_replays import replay_of, show
from ticketing.keys import TICKETING_CONFIG

pytestmark = pytest.mark.e2e


async def fetch(api: Api, url: str) -> tuple[int, bytes]:
    async with api.session.get(url) as resp:
        return resp.status, await resp.read()


def through(nginx: Nginx, url: str) -> str:
    return nginx.http_url + urlsplit(url).path


async def admitted_grant(
    api: Api, stripe_client: stripe.StripeClient, fan: dict[str, Any], event_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    ticket = await buy(api, stripe_client, fan, event_id)
    status, ok = await api.call(
        "POST",
        "/api/tickets/validate",
        token=fan["access"],
        json={"code": await code_for(api, fan, ticket["id"])},
    )
    assert status == 200, ok
    return ticket, ok["playback"]


async def test_refund_stops_the_viewers_hls_token_at_nginx(
    tapi: Api, nginx: Nginx, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    event = await paid_event(tapi, artist)
    ticket, grant = await admitted_grant(tapi, stripe_client, fan, event["id"])
    # The playlist as nginx-rtmp writes it (the gate, not the media, is under test here).
    stream_dir = nginx.hls_dir / event["id"]
    stream_dir.mkdir(parents=True, exist_ok=True)
    (stream_dir / "index.m3u8").write_text("#EXTM3U\n#EXT-X-TARGETDURATION:2\n")
    url = through(nginx, grant["url"])
    status, body = await fetch(tapi, url)
    assert status == 200 and body.startswith(b"#EXTM3U")
    status, _ = await tapi.call(
        "POST", f"/api/tickets/{ticket['id']}/refund", token=artist["access"]
    )
    assert status == 200
    started = time.monotonic()

    async def refused() -> bool:
        return (await fetch(tapi, url))[0] == 403

    await until(refused, nginx.cache_seconds + 3, "the refunded viewer's token to be refused")
    assert time.monotonic() - started <= nginx.cache_seconds + 3
    shutil.rmtree(stream_dir, ignore_errors=True)


async def test_replay_is_served_and_gated_by_nginx(
    tapi: Api, nginx: Nginx, stripe_client: stripe.StripeClient, flv: Path
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    event = await paid_event(tapi, artist, replay_access=True)
    ticket, live = await admitted_grant(tapi, stripe_client, fan, event["id"])
    await show(tapi, event, [flv], tapi.app[TICKETING_CONFIG].record_dir)

    async def ready() -> Any:
        status, body = await replay_of(tapi, fan, event["id"])
        return body if status == 200 else None

    grant = (await until(ready, 20, "the replay"))["playback"]
    url = through(nginx, grant["url"])
    status, playlist = await fetch(tapi, url)
    assert status == 200 and playlist.startswith(b"#EXTM3U") and b"#EXT-X-ENDLIST" in playlist
    segment = next(line for line in playlist.decode().splitlines() if line.endswith(".ts"))
    status, data = await fetch(tapi, url.rsplit("/", 1)[0] + "/" + segment)
    assert status == 200 and data[:1] == b"\x47"
    # The admission's live token does not open /replay/, even for the same event.
    status, _ = await fetch(
        tapi, f"{nginx.http_url}/replay/{live['token']}/{event['id']}/index.m3u8"
    )
    assert status == 403
    status, _ = await fetch(tapi, f"{nginx.http_url}/replay/x/{event['id']}/../../nginx.conf")
    assert status in (400, 403, 404)
    status, _ = await tapi.call(
        "POST", f"/api/tickets/{ticket['id']}/refund", token=artist["access"]
    )

    async def refused() -> bool:
        return (await fetch(tapi, url))[0] == 403

    await until(refused, nginx.cache_seconds + 3, "the refunded replay token to be refused")


async def test_recorded_show_becomes_a_replay(
    tapi: Api,
    nginx: Nginx,
    app_server: tuple[web.Application, str],
    stripe_client: stripe.StripeClient,
) -> None:
    """OBS -> nginx-rtmp records -> stream ends -> the app remuxes -> nginx serves the replay."""
    assert app_server[0][TICKETING_CONFIG].record_dir == nginx.record_dir
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    event = await paid_event(tapi, artist, replay_access=True)
    await buy(tapi, stripe_client, fan, event["id"])
    async with obs(nginx.rtmp_url, event["stream_key"], 4) as ffmpeg:
        assert await asyncio.wait_for(ffmpeg.wait(), 30) == 0
    recordings = list(nginx.record_dir.glob(f"{event['id']}-*.flv"))
    assert recordings, "nginx-rtmp records under the event id"
    assert not list(nginx.record_dir.glob(f"{event['stream_key']}*")), "keys never reach disk"

    async def ready() -> Any:
        status, body = await replay_of(tapi, fan, event["id"])
        return body if status == 200 else None

    body = await until(ready, 30, "the recorded show's replay")
    assert 2.5 < body["replay"]["duration"] < 6
    url = through(nginx, body["playback"]["url"])
    status, playlist = await fetch(tapi, url)
    assert status == 200 and b"#EXT-X-ENDLIST" in playlist
    assert (tapi.app[CONFIG].replay_dir / event["id"] / "index.m3u8").exists()
