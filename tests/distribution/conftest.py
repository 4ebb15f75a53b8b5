"""Distribution fixtures: real audio made by ffmpeg, covers made by Pillow, uploads through
the API."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.conftest import Api
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
