"""Processing on the job queue: probe, HLS ladder, poster, duration, progress, refusals."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest

from media.videos.processing import VIDEO_CONFIG
from tests.chat.conftest import Client
from tests.conftest import Api
from tests.videos import clip, ready_video, settled, upload


async def test_an_upload_becomes_a_ready_ladder_with_poster_and_duration(api: Api) -> None:
    artist = await api.register("artist")
    video = await ready_video(
        api, artist["access"], title="First light", realm="paradiso", tags=["Dawn", "dawn", "live"]
    )
    assert video["title"] == "First light" and video["realm"] == "paradiso"
    assert video["tags"] == ["dawn", "live"]
    assert video["progress"] == 100 and video["failure"] is None
    assert video["duration_s"] == pytest.approx(2.0, abs=0.2)
    assert (video["width"], video["height"]) == (320, 240)
    assert video["ready_at"] is not None and video["poster_url"].endswith("/poster")
    folder = api.app[VIDEO_CONFIG].videos_dir / video["id"]
    master = (folder / "index.m3u8").read_text()
    # A 240-line source gets the 240p rung only: nothing is upscaled.
    assert "240p.m3u8" in master and "480p" not in master and "720p" not in master
    assert sorted(p.name for p in folder.glob("240p_*.ts"))
    async with api.session.get(
        video["poster_url"].replace("http://127.0.0.1:8000", api.base_url)
    ) as resp:
        assert resp.status == 200 and resp.content_type == "image/jpeg"
        assert (await resp.read()).startswith(b"\xff\xd8\xff")


async def test_the_ladder_stops_at_the_source_height(api: Api) -> None:
    artist = await api.register("artist")
    video_id = await upload(api, artist["access"], await clip(2, "854x480"))
    video = await settled(api, artist["access"], video_id)
    assert video["state"] == "ready", video
    master = (api.app[VIDEO_CONFIG].videos_dir / video_id / "index.m3u8").read_text()
    assert "240p.m3u8" in master and "480p.m3u8" in master and "720p" not in master


async def test_the_uploader_is_told_progress_over_socketio(api: Api) -> None:
    artist = await api.register("artist")
    client = Client()
    await client.connect(api.base_url, artist["access"])
    try:
        video_id = await upload(api, artist["access"], await clip(4))
        ready = await client.wait_for(
            "video_progress", lambda d: d["video_id"] == video_id and d["state"] == "ready", 90
        )
        assert ready == {"video_id": video_id, "state": "ready", "progress": 100, "failure": None}
        states = [
            d["state"] for d in client.seen("video_progress", lambda d: d["video_id"] == video_id)
        ]
        assert states[0] == "processing" and states[-1] == "ready"
        progress = [
            d["progress"]
            for d in client.seen("video_progress", lambda d: d["video_id"] == video_id)
        ]
        assert progress == sorted(progress)
    finally:
        await client.close()
    # Nobody else hears about it.
    other = await api.register("artist")
    listener = Client()
    await listener.connect(api.base_url, other["access"])
    try:
        await upload(api, artist["access"], await clip())
        await listener.barrier()
        assert listener.seen("video_progress") == []
    finally:
        await listener.close()


async def _truncated() -> bytes:
    """An MP4 whose index sits at the end (no faststart), cut in half."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "t.mp4"
        proc = await asyncio.create_subprocess_exec(
            ffmpeg,
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(out),
        )
        assert await proc.wait() == 0
        data = out.read_bytes()
    return data[: len(data) // 2]


async def _audio_only() -> bytes:
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "a.m4a"
        proc = await asyncio.create_subprocess_exec(
            ffmpeg,
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440",
            "-t",
            "2",
            "-c:a",
            "aac",
            str(out),
        )
        assert await proc.wait() == 0
        return out.read_bytes()


async def _faststart_cut() -> bytes:
    """An MP4 with its index first, its media cut off after a third."""
    data = await clip(6)
    return data[: len(data) // 3]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda: asyncio.sleep(0, b"just some text, not a video at all\n" * 50),
            "not a readable video",
        ),
        (_audio_only, "no video stream (it holds only audio)"),
        (_truncated, "not a readable video"),
        (_faststart_cut, "truncated"),
    ],
    ids=["text", "audio-only", "truncated-index", "truncated-media"],
)
async def test_files_that_are_not_whole_videos_fail_with_a_reason(
    api: Api, make: object, reason: str
) -> None:
    artist = await api.register("artist")
    data = await make()  # type: ignore[operator]
    video_id = await upload(api, artist["access"], data)
    video = await settled(api, artist["access"], video_id)
    assert video["state"] == "failed", video
    assert reason in video["failure"]
    assert not (api.app[VIDEO_CONFIG].videos_dir / video_id).exists()
    # A failed video is the artist's to see (and delete), nobody else's.
    fan = await api.register("fan")
    status, body = await api.call("GET", f"/api/videos/{video_id}", token=fan["access"])
    assert status == 404 and body["error"]["code"] == "video_not_found"
