"""Distribution fixtures: real audio made by ffmpeg, covers made by Pillow, uploads through
the API, and real sshd servers standing in for two DSPs with an app configured to deliver
to them."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from distribution.package import PackageFile, ReleasePackage
from server.keys import DB
from tests import sftp_server
from tests.apps import app_with
from tests.conftest import Api
from tests.sftp_server import SftpServer
from tests.streaming import until


def make_audio(folder: Path, fmt: str, seconds: float = 1.0) -> bytes:
    """A sine tone in `fmt` (flac, wav, mp3) made by ffmpeg."""
    out = folder / f"tone-{seconds}.{fmt}"
    if not out.exists():
        codec = {"flac": ["-c:a", "flac"], "wav": [], "mp3": ["-c:a", "libmp3lame"]}[fmt]
        subprocess.run(
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency=440:duration={seconds}",
                "-ac",
                "2",
                *codec,
                str(out),
            ],
            check=True,
        )
    return out.read_bytes()


def make_cover(px: int = 1400, fmt: str = "PNG", height: int | None = None) -> bytes:
    """A plain cover image of `px` x `height` pixels."""
    buf = io.BytesIO()
    Image.new("RGB", (px, height or px), (200, 30, 60)).save(buf, fmt)
    return buf.getvalue()


def metadata(**changes: Any) -> dict[str, Any]:
    """Valid release metadata, with `changes` applied (None removes a field)."""
    base: dict[str, Any] = {
        "title": "Night Drive",
        "version": "Radio Edit",
        "artists": [
            {"name": "Ana Lune", "role": "MainArtist"},
            {"name": "Bo Park", "role": "FeaturedArtist"},
            {"name": "Cy Mix", "role": "Remixer"},
        ],
        "genre": "Electronic",
        "release_date": "2026-03-01",
        "label": "MHC Records",
        "c_line": "2026 MHC Records",
        "p_line": "2026 MHC Records",
        "explicit": False,
        "territories": ["FR", "DE", "US"],
    }
    for k, v in changes.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return base


def form(
    meta: dict[str, Any] | str | None,
    audio: bytes | None,
    cover: bytes | None,
    audio_name: str = "track.flac",
) -> aiohttp.FormData:
    """The multipart body of an upload."""
    data = aiohttp.FormData()
    if meta is not None:
        data.add_field("metadata", meta if isinstance(meta, str) else json.dumps(meta))
    if audio is not None:
        data.add_field("audio", audio, filename=audio_name, content_type="application/octet-stream")
    if cover is not None:
        data.add_field("cover", cover, filename="cover.png", content_type="image/png")
    return data


async def upload(api: Api, token: str, data: aiohttp.FormData) -> tuple[int, Any]:
    """POST an upload."""
    return await api.call("POST", "/api/distribution/upload", token=token, data=data)


async def release_of(api: Api, token: str, release_id: str) -> dict[str, Any]:
    """One of the caller's releases from the listing."""
    status, body = await api.call("GET", "/api/distribution/releases", token=token)
    assert status == 200, body
    found = [r for r in body["releases"] if r["id"] == release_id]
    assert found, body
    return found[0]  # type: ignore[no-any-return]


async def settled(api: Api, token: str, release_id: str, revision: int = 1) -> dict[str, Any]:
    """The release once its build for `revision` finished."""

    async def done() -> dict[str, Any] | None:
        r = await release_of(api, token, release_id)
        ok = r["revision"] == revision and r["state"] in ("ready", "failed", "taken_down")
        return r if ok else None

    return await until(done, 30, f"release {release_id} revision {revision} built")  # type: ignore[no-any-return]


@pytest.fixture
async def artist(api: Api) -> dict[str, Any]:
    """A new artist account with its access token under "token"."""
    user = await api.register("artist")
    return {**user, "token": user["access"]}


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where generated audio is kept for the session."""
    return tmp_path_factory.mktemp("distribution-media")


@dataclass(frozen=True)
class Dsps:
    """Two DSP servers: `spotify` and `deezer` in the app's configuration."""

    spotify: SftpServer
    deezer: SftpServer

    def env(self, **extra: str) -> dict[str, str]:
        """The environment configuring both targets."""
        return {**self.spotify.env("spotify"), **self.deezer.env("deezer"), **extra}


@pytest.fixture
def sshd() -> Iterator[Dsps]:
    """Two real sshd servers, each with its own host key and jail."""
    with sftp_server.running() as one, sftp_server.running() as two:
        yield Dsps(one, two)


DistApp = Callable[..., Awaitable[Api]]


@pytest.fixture
async def dist_app(app_server: tuple[web.Application, str]) -> AsyncIterator[DistApp]:
    """Start apps with the given environment, each on its own job queue (so only its own
    worker runs its deliveries) with short retry delays."""
    async with AsyncExitStack() as stack:

        async def start(env: dict[str, str]) -> Api:
            queue = f"dist_{secrets.token_hex(4)}"
            settings = {
                "MHC_JOBS_QUEUE": queue,
                "MHC_JOBS_RETRY_SECONDS": "0.2",
                "MHC_JOBS_MAX_RETRY_SECONDS": "2",
                "MHC_DISTRIBUTION_SFTP_TIMEOUT": "10",
                **env,
            }
            return await stack.enter_async_context(app_with(app_server[0], env=settings))

        yield start


def make_package(
    root: Path,
    dsp: str,
    *,
    release_id: uuid.UUID | None = None,
    audio_bytes: int = 200_000,
    kind: Literal["insert", "update", "takedown"] = "insert",
) -> ReleasePackage:
    """A release package on disk: an ERN message, an audio resource and cover art."""
    release_id = release_id or uuid.uuid4()
    message_id = f"MSG{secrets.token_hex(8).upper()}"
    folder = root / f"{dsp}-{message_id}"
    (folder / "resources").mkdir(parents=True)
    contents = {
        f"{message_id}.xml": (
            f'<?xml version="1.0"?><ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/43">'
            f"<MessageHeader><MessageId>{message_id}</MessageId></MessageHeader>"
            f"</ern:NewReleaseMessage>"
        ).encode(),
        "resources/A1.flac": os.urandom(audio_bytes),
        "resources/cover.jpg": os.urandom(20_000),
    }
    files = []
    for rel, data in contents.items():
        (folder / rel).write_bytes(data)
        files.append(PackageFile(rel, len(data), hashlib.md5(data).hexdigest()))
    return ReleasePackage(
        release_id=release_id,
        dsp=dsp,
        message_id=message_id,
        folder=folder,
        message_file=f"{message_id}.xml",
        files=tuple(files),
        kind=kind,
    )


async def enqueue(api: Api, packages: list[ReleasePackage]) -> list[tuple[str, str]]:
    """Queue packages for delivery as the release pipeline does, in its transaction."""
    from distribution import delivery

    async with api.app[DB].acquire() as conn, conn.transaction():
        return await delivery.enqueue(api.app, conn, packages)


async def owned_release(api: Api, artist_id: str) -> uuid.UUID:
    """A release row owned by `artist_id` with no build run, so that a test queues its own
    packages (an upload would queue the pipeline's; `test_end_to_end.py` covers that path)."""
    release_id = uuid.uuid4()
    async with api.app[DB].acquire() as conn:
        digits = f"{secrets.randbelow(10**12):012d}"
        await conn.execute(
            """INSERT INTO distribution_releases (id, artist_id, isrc, upc, metadata, audio, cover)
               VALUES ($1, $2, $3, $4, '{}', '{}', '{}')""",
            release_id,
            uuid.UUID(artist_id),
            f"XX-T{digits[:2]}-26-{digits[2:7]}",
            f"0{digits}",
        )
    return release_id
