"""nginx in front of an app that restarts: shows stay live, nginx's own errors are JSON."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from server.app import create_app
from server.clock import Clock
from server.config import Config
from server.keys import DB
from server.localstack import Service, free_port, start_nginx
from server.nginx_config import NginxLayout, default_worker_user, prepare_dirs, render
from tests.conftest import Api, make_config
from tests.services import Services
from tests.streaming import obs, until

pytestmark = pytest.mark.e2e

HEARTBEAT = 2  # seconds between nginx-rtmp's on_update reports in this front


@dataclass
class Front:
    """An app this module may stop and start again on its port, behind its own real nginx."""

    cfg: Config
    http_url: str
    rtmp_url: str
    runner: web.AppRunner | None = None

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.cfg.port}"

    async def start_app(self) -> web.Application:
        app = create_app(self.cfg, Clock())
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.cfg.port).start()
        return app

    async def stop_app(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()
        self.runner = None


@pytest.fixture(scope="module")
async def front(services: Services) -> AsyncIterator[Front]:
    cfg = make_config(services, MHC_PORT=str(free_port()))
    http_port, rtmp_port = free_port(), free_port()
    # The deployment's own layout (gate cache included); only the heartbeat is quicker.
    layout = NginxLayout(
        state_dir=services.work_dir / "nginx-front",
        rtmp_listen=f"127.0.0.1:{rtmp_port}",
        http_listen=f"127.0.0.1:{http_port}",
        app_host="127.0.0.1",
        app_port=cfg.port,
        hook_port=free_port(),
        record_dir=None,
        heartbeat_seconds=HEARTBEAT,
        worker_user=default_worker_user(),
    )
    prepare_dirs(cfg, layout)
    conf = layout.state_dir / "nginx.conf"
    conf.write_text(render(cfg, layout))
    result = Front(cfg, f"http://127.0.0.1:{http_port}", f"rtmp://127.0.0.1:{rtmp_port}/live")
    await result.start_app()
    nginx: Service = start_nginx(conf, http_port)
    try:
        yield result
    finally:
        nginx.stop()
        if result.runner is not None:
            await result.stop_app()


@pytest.fixture
async def client(front: Front) -> AsyncIterator[Api]:
    """The JSON API through nginx (the app object is not used through it)."""
    async with aiohttp.ClientSession() as session:
        yield Api(session, front.http_url, web.Application())


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    async with session.get(url) as resp:
        return resp.status, resp.content_type, await resp.text()


def newest_segment(playlist: str) -> int:
    """The number of the playlist's newest segment (nginx-rtmp numbers them in order), or -1."""
    found = re.findall(r"^(\d+)\.ts$", playlist, re.MULTILINE)
    return int(found[-1]) if found else -1


async def test_an_app_restart_does_not_end_the_show(front: Front, client: Api) -> None:
    artist = await client.register("artist")
    event = await client.create_event(artist["access"])
    fan = await client.register("fan")
    status, grant = await client.call(
        "POST", f"/api/live/{event['id']}/playback", token=fan["access"]
    )
    assert status == 200, grant
    url = front.http_url + urlsplit(grant["url"]).path
    session = client.session

    async with obs(front.rtmp_url, event["stream_key"], seconds=120) as ffmpeg:

        async def playing() -> int:
            status, _, text = await get(session, url)
            return newest_segment(text) + 1 if status == 200 and ".ts" in text else 0

        await until(playing, 30, "the show to play through the gate")
        await front.stop_app()
        down_at = time.monotonic()
        # While the app is down, nginx answers the API in the JSON error shape ...
        status, kind, text = await get(session, front.http_url + f"/api/live/{event['id']}")
        assert status == 502 and kind == "application/json" and '"unavailable"' in text, text
        # ... and a viewer keeps playing on the recent allow, heartbeats or not.
        seen = []
        while time.monotonic() - down_at < 3 * HEARTBEAT + 1:
            status, _, text = await get(session, url)
            assert status == 200, (status, text)
            seen.append(newest_segment(text))
            await asyncio.sleep(0.5)
        assert ffmpeg.returncode is None, "nginx dropped the publisher while the app was down"
        assert seen[-1] > seen[0], "the playlist kept updating"

        app = await front.start_app()
        status, body = await client.call("GET", f"/api/live/{event['id']}")
        assert status == 200 and body["status"] == "live" and body["publishing"], body
        restarted = time.monotonic()

        async def heartbeat_after_restart() -> bool:
            async with app[DB].acquire() as conn:
                seen_at = await conn.fetchval(
                    "SELECT extract(epoch FROM now() - publisher_seen_at) FROM live_events"
                    " WHERE id = $1",
                    uuid.UUID(event["id"]),
                )
            return seen_at is not None and float(seen_at) < time.monotonic() - restarted

        await until(heartbeat_after_restart, 3 * HEARTBEAT, "a heartbeat to reach the new app")
        # Viewers keep renewing and playing through the restarted app's gate.
        status, renewed = await client.call(
            "POST",
            f"/api/live/{event['id']}/playback",
            token=fan["access"],
            json={"session_id": grant["session_id"]},
        )
        assert status == 200, renewed
        before = (await playing()) - 1
        renewed_url = front.http_url + urlsplit(renewed["url"]).path

        async def advanced() -> bool:
            status, _, text = await get(session, renewed_url)
            return status == 200 and newest_segment(text) > before

        await until(advanced, 20, "the playlist to advance after the restart")
        assert ffmpeg.returncode is None

    async def ended() -> bool:
        _, body = await client.call("GET", f"/api/live/{event['id']}")
        return bool(body["status"] == "ended")

    await until(ended, 15, "on_publish_done to end the event once OBS stops")


async def test_nginx_errors_are_json_and_bodies_limit_like_the_app(
    front: Front, client: Api
) -> None:
    limit = front.cfg.max_body_bytes
    for size, expected in ((limit + 1, 413), (limit * 4, 413)):
        body = b'{"email": "a@b.cc", "password": "' + b"x" * (size - 35) + b'"}'
        status, reply = await client.call(
            "POST", "/api/auth/login", data=body, headers={"Content-Type": "application/json"}
        )
        assert status == expected and reply["error"]["code"] == "too_large", (size, reply)
    # At the limit the body reaches the app, which answers for itself.
    body = b'{"email": "a@b.cc", "password": "' + b"x" * (limit - 35) + b'"}'
    assert len(body) == limit
    status, reply = await client.call(
        "POST", "/api/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    assert status not in (413, 500) and isinstance(reply, dict), (status, reply)
    # Operator endpoints stay on the app port.
    for path in ("/metrics", "/readyz", "/hooks/", "/internal/play-auth"):
        status, kind, text = await get(client.session, front.http_url + path)
        assert status == 404 and kind == "application/json" and '"not_found"' in text, path
    async with aiohttp.ClientSession() as session:
        for path in ("/metrics", "/readyz"):
            status, _, _ = await get(session, front.app_url + path)
            assert status == 200, path
        status, _, _ = await get(session, front.http_url + "/healthz")
        assert status == 200


async def test_a_revoked_token_is_refused_within_5_seconds(front: Front, client: Api) -> None:
    artist = await client.register("artist")
    event = await client.create_event(artist["access"])
    folder = front.cfg.hls_dir / event["id"]
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    (folder / "index.m3u8").write_text("#EXTM3U\n")
    fan = await client.register("fan")
    delays: list[float] = []
    for _ in range(3):
        status, grant = await client.call(
            "POST", f"/api/live/{event['id']}/playback", token=fan["access"]
        )
        assert status == 200, grant
        url = front.http_url + urlsplit(grant["url"]).path
        # The worst case: nginx cached this token's allow just before the revocation.
        assert (await get(client.session, url))[0] == 200
        status, _ = await client.call(
            "DELETE", f"/api/playback/{grant['session_id']}", token=fan["access"]
        )
        assert status == 200
        revoked = time.monotonic()
        while (await get(client.session, url))[0] == 200:
            assert time.monotonic() - revoked < 10
            await asyncio.sleep(0.05)
        delays.append(time.monotonic() - revoked)
    print(f"time to first refusal after revocation: {', '.join(f'{d:.2f}s' for d in delays)}")
    assert max(delays) <= 5.0, delays
