"""Videos for tests: short clips made by ffmpeg, uploaded over tus, polled until processed."""

from __future__ import annotations

import asyncio
import base64
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tests.streaming import until

_CLIPS: dict[tuple[float, str, bool], bytes] = {}
EDITABLE = ("description", "tags")


async def clip(seconds: float = 2, size: str = "320x240", *, audio: bool = True) -> bytes:
    """An MP4 (H.264, AAC) test pattern of `seconds`, made once per shape and kept."""
    key = (seconds, size, audio)
    if key in _CLIPS:
        return _CLIPS[key]
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is installed by ./dev"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.mp4"
        args = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y"]
        args += ["-f", "lavfi", "-i", f"testsrc=size={size}:rate=25"]
        if audio:
            args += ["-f", "lavfi", "-i", "sine=frequency=440"]
        args += [
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ]
        args += ["-c:a", "aac"] if audio else []
        args += ["-movflags", "+faststart", str(out)]
        proc = await asyncio.create_subprocess_exec(*args)
        assert await proc.wait() == 0
        _CLIPS[key] = out.read_bytes()
    return _CLIPS[key]


def metadata(**fields: str) -> str:
    """An `Upload-Metadata` header value."""
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())


async def create_upload(api: Any, token: str, length: int, **meta: str) -> tuple[int, Any, Any]:
    """tus creation; returns (status, headers, body)."""
    headers = {
        "Tus-Resumable": "1.0.0",
        "Upload-Length": str(length),
        "Upload-Metadata": metadata(**{"filename": "clip.mp4", **meta}),
        "Authorization": f"Bearer {token}",
    }
    async with api.session.post(api.base_url + "/api/videos/uploads", headers=headers) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, resp.headers, body


async def patch(
    api: Any, token: str, location: str, offset: int, data: bytes, **extra: str
) -> tuple[int, Any, Any]:
    """One tus PATCH; returns (status, headers, body)."""
    headers = {
        "Tus-Resumable": "1.0.0",
        "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream",
        "Authorization": f"Bearer {token}",
        **extra,
    }
    async with api.session.patch(api.base_url + location, data=data, headers=headers) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, resp.headers, body


async def upload(api: Any, token: str, data: bytes, **meta: str) -> str:
    """Upload `data` whole over tus; returns the video id."""
    status, created, body = await create_upload(api, token, len(data), **meta)
    assert status == 201, body
    status, headers, body = await patch(api, token, created["Location"], 0, data)
    assert status == 204, body
    assert int(headers["Upload-Offset"]) == len(data)
    return str(created["Video-Id"])


async def settled(api: Any, token: str, video_id: str, timeout: float = 90) -> dict[str, Any]:
    """Poll `GET /api/videos/{id}` until processing is over (ready or failed)."""

    async def check() -> dict[str, Any] | None:
        status, body = await api.call("GET", f"/api/videos/{video_id}", token=token)
        assert status == 200, body
        return body if body["state"] in ("ready", "failed") else None

    return await until(check, timeout, f"video {video_id} to be processed")  # type: ignore[no-any-return]


async def ready_video(api: Any, artist_token: str, **meta: Any) -> dict[str, Any]:
    """A ready video of the artist: a 2-second ffmpeg clip uploaded over tus and processed.
    `meta` may set title, realm, visibility (sent with the upload), description and tags."""
    sent = {k: str(v) for k, v in meta.items() if k not in EDITABLE}
    status, headers, body = await create_upload(api, artist_token, len(await clip()), **sent)
    assert status == 201, body
    status, _, body = await patch(api, artist_token, headers["Location"], 0, await clip())
    assert status == 204, body
    video_id = headers["Video-Id"]
    edits = {k: v for k, v in meta.items() if k in EDITABLE}
    if edits:
        status, body = await api.call(
            "PATCH", f"/api/videos/{video_id}", token=artist_token, json=edits
        )
        assert status == 200, body
    video = await settled(api, artist_token, video_id)
    assert video["state"] == "ready", video
    return video
