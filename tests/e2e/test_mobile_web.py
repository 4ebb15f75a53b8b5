"""The mobile app (`mobile/`): types, unit tests, native bundles, and its web build in chromium.

The browser is driven by npm `playwright-core` (pinned in `mobile/package-lock.json`, so it
arrives with the app's own `npm ci` and needs no second toolchain or browser download) with
Debian's `chromium`. The web build is served by the app on nginx's origin, exactly as a
deployment serves it, against the real PostgreSQL, Redis, nginx-rtmp and ffmpeg as OBS.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
import zxingcpp
from aiohttp import web
from PIL import Image

from server.app import create_app
from server.clock import Clock
from server.config import Config
from server.localstack import Service, free_port, start_nginx
from server.nginx_config import NginxLayout, default_worker_user, prepare_dirs, render
from tests.conftest import Api, make_config
from tests.services import Services
from tests.streaming import obs, until

pytestmark = pytest.mark.e2e

MOBILE = Path(__file__).resolve().parents[2] / "mobile"
SOURCES = ("app", "src", "public", "assets", "app.json", "package-lock.json", "tsconfig.json")
# Nothing may reach out while building or running (no telemetry, no update checks).
NODE_ENV = {"EXPO_NO_TELEMETRY": "1", "EXPO_OFFLINE": "1", "CI": "1"}


def node_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **NODE_ENV, **extra}


def run(args: list[str], timeout: float, **extra: str) -> subprocess.CompletedProcess[str]:
    """A command in `mobile/`; its output is shown when it fails."""
    started = time.monotonic()
    result = subprocess.run(
        args,
        cwd=MOBILE,
        env=node_env(**extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    took = time.monotonic() - started
    print(f"{' '.join(args[:4])}: {took:.1f}s")
    assert result.returncode == 0, (
        f"{args} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


def newest_source() -> float:
    newest = 0.0
    for name in SOURCES:
        path = MOBILE / name
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """`npm ci` from the committed lock, unless node_modules already matches it."""
    npm = shutil.which("npm")
    assert npm and shutil.which("node"), "node and npm are installed by ./dev"
    assert Path("/usr/bin/chromium").exists(), "chromium is installed by ./dev"
    installed = MOBILE / "node_modules" / ".package-lock.json"
    lock = MOBILE / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], 900)
    return MOBILE / "node_modules"


@pytest.fixture(scope="module")
def web_build(node_modules: Path) -> Path:
    """`mobile/dist`, the web export `./dev up` serves too; rebuilt when a source is newer."""
    dist = MOBILE / "dist"
    index = dist / "index.html"
    if not index.exists() or index.stat().st_mtime < newest_source():
        run(["npm", "run", "-s", "export:web"], 1200)
    assert (dist / "zxing_reader.wasm").exists(), "the scanner's wasm ships with the build"
    return dist


def test_typescript_is_clean(node_modules: Path) -> None:
    run(["npx", "tsc", "--noEmit"], 600)


def test_jest_suite(node_modules: Path) -> None:
    result = run(["npx", "jest", "--ci", "--silent"], 900)
    print(result.stderr[-600:])


def test_native_bundles_compile(node_modules: Path, tmp_path: Path) -> None:
    out = tmp_path / "native"
    started = time.monotonic()
    run(
        [
            "npx",
            "expo",
            "export",
            "--platform",
            "android",
            "--platform",
            "ios",
            "--output-dir",
            str(out),
        ],
        1800,
    )
    print(f"native export (android + ios Hermes bundles): {time.monotonic() - started:.0f}s")
    for platform in ("android", "ios"):
        bundles = list((out / "_expo" / "static" / "js" / platform).glob("*.hbc"))
        assert bundles and bundles[0].stat().st_size > 100_000, platform


@dataclass
class Stack:
    """The app (serving the web build) behind its own real nginx, on nginx's origin."""

    cfg: Config
    url: str
    rtmp_url: str
    artifacts: Path


@pytest.fixture(scope="module")
async def stack(services: Services, web_build: Path) -> AsyncIterator[Stack]:
    http_port, rtmp_port = free_port(), free_port()
    url = f"http://127.0.0.1:{http_port}"
    # Playback URLs carry the public origin: the page's own, so no CORS is ever needed.
    cfg = make_config(services, MHC_PORT=str(free_port()), MHC_PUBLIC_URL=url)
    layout = NginxLayout(
        state_dir=services.work_dir / "nginx-mobile",
        rtmp_listen=f"127.0.0.1:{rtmp_port}",
        http_listen=f"127.0.0.1:{http_port}",
        app_host="127.0.0.1",
        app_port=cfg.port,
        hook_port=free_port(),
        record_dir=None,
        worker_user=default_worker_user(),
    )
    prepare_dirs(cfg, layout)
    conf = layout.state_dir / "nginx.conf"
    conf.write_text(render(cfg, layout))
    previous = os.environ.get("MHC_WEB_DIR")
    os.environ["MHC_WEB_DIR"] = str(web_build)
    runner = web.AppRunner(create_app(cfg, Clock()), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", cfg.port).start()
    nginx: Service = start_nginx(conf, http_port)
    artifacts = services.work_dir / "mobile-screenshots"
    artifacts.mkdir(parents=True, exist_ok=True)
    try:
        yield Stack(cfg, url, f"rtmp://127.0.0.1:{rtmp_port}/live", artifacts)
    finally:
        print(f"screenshots: {artifacts}")
        nginx.stop()
        await runner.cleanup()
        if previous is None:
            os.environ.pop("MHC_WEB_DIR", None)
        else:
            os.environ["MHC_WEB_DIR"] = previous


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, stack.url, web.Application())


async def browser(script: str, stack: Stack, timeout: float, **env: str) -> dict[str, Any]:
    """Runs a Playwright script of `mobile/e2e/`; returns the JSON it prints last."""
    proc = await asyncio.create_subprocess_exec(
        "node",
        f"e2e/{script}",
        cwd=MOBILE,
        env=node_env(BASE_URL=stack.url, ARTIFACTS=str(stack.artifacts), **env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    lines = out.decode().strip().splitlines()
    assert lines, f"{script} printed nothing:\n{err.decode()[-3000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    print(f"{script}: screenshots in {stack.artifacts}")
    assert result.get("ok"), json.dumps(result, indent=1)[-6000:]
    return result


async def test_the_web_build_is_served_at_the_root(client: Api) -> None:
    for path in ("/", "/live", f"/event/{uuid.uuid4()}"):
        async with client.session.get(client.base_url + path) as resp:
            body = await resp.text()
            assert resp.status == 200 and "/_expo/static/js/web/" in body, path
    async with client.session.get(client.base_url + "/zxing_reader.wasm") as resp:
        assert resp.status == 200 and (await resp.read())[:4] == b"\0asm"


async def test_a_fan_buys_validates_watches_and_chats(stack: Stack, client: Api) -> None:
    artist = await client.register("artist")
    title = f"Browser show {uuid.uuid4().hex[:6]}"
    event = await client.create_event(
        artist["access"], title=title, price=500, starts_at="2030-01-01T20:00:00Z"
    )
    artist_said = f"welcome from the stage {uuid.uuid4().hex[:6]}"
    artist_socket = socketio.AsyncClient(reconnection=False)
    await artist_socket.connect(
        stack.url, auth={"token": artist["access"]}, transports=["websocket"]
    )
    joined = await artist_socket.call("join", {"event_id": event["id"]})
    assert joined.get("ok"), joined

    async with obs(stack.rtmp_url, event["stream_key"], seconds=240):

        async def on_air() -> bool:
            _, body = await client.call("GET", f"/api/live/{event['id']}")
            return bool(body["status"] == "live")

        await until(on_air, 30, "the show to go live")
        playlist = stack.cfg.hls_dir / event["id"] / "index.m3u8"

        async def segments() -> bool:
            return playlist.exists() and ".ts" in playlist.read_text()

        await until(segments, 30, "the first HLS segments")

        async def answer_the_fan() -> None:
            # Once the fan's message reaches the server, the artist answers over the socket.
            async def fan_spoke() -> bool:
                status, body = await client.call(
                    "GET", f"/api/live/{event['id']}/chat", token=artist["access"]
                )
                return status == 200 and any(
                    m["text"].startswith("hello from the browser") for m in body["messages"]
                )

            await until(fan_spoke, 150, "the fan's chat message")
            sent = await artist_socket.call("send", {"event_id": event["id"], "text": artist_said})
            assert sent.get("ok"), sent

        helper = asyncio.create_task(answer_the_fan())
        try:
            result = await browser(
                "live.mjs",
                stack,
                240,
                EVENT_ID=event["id"],
                EVENT_TITLE=title,
                ARTIST_MESSAGE=artist_said,
            )
        finally:
            helper.cancel()
        await artist_socket.disconnect()

    first, later = result["currentTime"]
    assert later > first + 2, result["currentTime"]
    assert "/play/" in result["videoSrc"] or result["videoSrc"].startswith("blob:"), result
    # The QR on screen is a real ticket code: 92 base32 characters (see "QR code format").
    decoded = zxingcpp.read_barcodes(Image.open(result["screenshots"][2]))
    assert [len(b.text) for b in decoded] == [92], decoded
    assert result["chatReceived"] == artist_said
    assert result["foreign"] == [], "the web app loaded something from another origin"
    assert result["ticketsListed"] == 1
    # The server agrees: one paid, admitted ticket for this event.
    status, body = await client.call(
        "GET", f"/api/live/{event['id']}/sales", token=artist["access"]
    )
    assert status == 200, body
    for shot in result["screenshots"]:
        assert Path(shot).stat().st_size > 1000, shot


async def test_an_artist_uploads_and_a_fan_likes_comments_and_tips(
    stack: Stack, client: Api, tmp_path: Path
) -> None:
    status, _ = await client.call("OPTIONS", "/api/videos/uploads")
    assert status in (200, 204), "the tus upload endpoint exists"
    clip = tmp_path / "clip.mp4"
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg
    subprocess.run(
        # Noise at a fixed 6 Mbit/s makes about 3 MB: several of the app's 1 MiB chunks, so
        # the progress bar has steps to show between 0 and 100 %.
        [ffmpeg, "-v", "error", "-f", "lavfi",
         "-i", "testsrc=size=480x270:rate=25,noise=alls=40:allf=t+u",
         "-f", "lavfi", "-i", "sine=frequency=440", "-t", "4", "-c:v", "libx264",
         "-preset", "ultrafast", "-b:v", "6M", "-minrate", "6M", "-maxrate", "6M",
         "-bufsize", "6M", "-c:a", "aac", "-shortest", str(clip)],
        check=True,
    )  # fmt: skip
    result = await browser("video.mjs", stack, 300, CLIP=str(clip))
    assert result["uploadProgress"][-1] == 100, result["uploadProgress"]
    assert clip.stat().st_size > 2 * 1024 * 1024, clip.stat().st_size
    assert len(set(result["uploadProgress"])) > 1, "progress was shown along the way"
    video_id = result["videoId"]
    status, video = await client.call("GET", f"/api/videos/{video_id}")
    assert status == 200 and video["state"] == "ready", video
    assert video["likes"] == 1, video
    status, comments = await client.call("GET", f"/api/videos/{video_id}/comments")
    assert status == 200 and any(c["body"] == result["comment"] for c in comments["items"])
    assert result["analyticsViews"] >= 1, result
    assert result["tipShown"]
