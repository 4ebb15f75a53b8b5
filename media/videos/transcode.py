"""ffmpeg to an HLS ladder (one master playlist, a rung per height at or below the source's),
and a poster frame. Progress comes from ffmpeg's `-progress` key=value stream.

Every file lands flat in one folder, so the playback gate's one-segment paths cover them:
`index.m3u8` (master), `<rung>.m3u8`, `<rung>_00000.ts`, `poster.jpg`.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from media.videos.probe import Probe

MASTER = "index.m3u8"
POSTER = "poster.jpg"


@dataclass(frozen=True)
class Rung:
    """One quality of the ladder."""

    name: str
    height: int
    video_kbps: int
    audio_kbps: int


LADDER = (Rung("240p", 240, 400, 64), Rung("480p", 480, 1200, 96), Rung("720p", 720, 2800, 128))


class TranscodeFailed(Exception):
    """ffmpeg could not make the ladder; the message is ffmpeg's last words."""


def rungs_for(height: int) -> list[Rung]:
    """The rungs at or below the source height; a source under the lowest gets one at its own."""
    chosen = [r for r in LADDER if r.height <= height]
    if chosen:
        return chosen
    low = LADDER[0]
    return [Rung(f"{height - height % 2}p", height - height % 2, low.video_kbps, low.audio_kbps)]


def ladder_args(
    ffmpeg: str, source: Path, out: Path, shape: Probe, segment_seconds: int
) -> list[str]:
    """The one ffmpeg command that writes every rung and the master playlist."""
    rungs = rungs_for(shape.height)
    split = f"[0:v:0]split={len(rungs)}" + "".join(f"[s{i}]" for i in range(len(rungs)))
    scales = [f"[s{i}]scale=-2:{r.height}[o{i}]" for i, r in enumerate(rungs)]
    args = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"]
    args += [
        "-i",
        str(source),
        "-progress",
        "pipe:1",
        "-filter_complex",
        ";".join([split, *scales]),
    ]
    streams = []
    for i, r in enumerate(rungs):
        args += ["-map", f"[o{i}]", f"-c:v:{i}", "libx264", f"-b:v:{i}", f"{r.video_kbps}k"]
        args += [
            f"-maxrate:v:{i}",
            f"{r.video_kbps * 3 // 2}k",
            f"-bufsize:v:{i}",
            f"{r.video_kbps * 2}k",
        ]
        entry = f"v:{i}"
        if shape.has_audio:
            args += [
                "-map",
                "0:a:0",
                f"-c:a:{i}",
                "aac",
                f"-b:a:{i}",
                f"{r.audio_kbps}k",
                "-ac",
                "2",
            ]
            entry += f",a:{i}"
        streams.append(f"{entry},name:{r.name}")
    # A keyframe at each segment boundary, whatever the source's rate.
    args += ["-preset", "veryfast", "-pix_fmt", "yuv420p", "-sc_threshold", "0"]
    args += ["-force_key_frames", f"expr:gte(t,n_forced*{segment_seconds})"]
    args += ["-f", "hls", "-hls_time", str(segment_seconds), "-hls_playlist_type", "vod"]
    args += ["-hls_segment_filename", str(out / "%v_%05d.ts"), "-master_pl_name", MASTER]
    args += ["-var_stream_map", " ".join(streams), str(out / "%v.m3u8")]
    return args


async def ladder(
    source: Path,
    out: Path,
    shape: Probe,
    segment_seconds: int,
    on_progress: Callable[[int], Awaitable[None]],
) -> None:
    """Run the ladder transcode, reporting whole percents as ffmpeg advances."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise TranscodeFailed("ffmpeg is not installed")
    proc = await asyncio.create_subprocess_exec(
        *ladder_args(ffmpeg, source, out, shape, segment_seconds),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    errors = asyncio.create_task(proc.stderr.read())
    total_us = max(1.0, shape.duration * 1_000_000)
    try:
        async for raw in proc.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "out_time_us" and value.isdigit():
                await on_progress(min(99, int(int(value) * 100 / total_us)))
        code = await proc.wait()
    finally:
        if proc.returncode is None:  # cancelled (shutdown): leave no ffmpeg behind
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    stderr = (await errors).decode("utf-8", "replace").strip()
    if code != 0:
        raise TranscodeFailed(stderr.splitlines()[-1] if stderr else f"ffmpeg exited with {code}")


async def poster(source: Path, out: Path, shape: Probe) -> None:
    """A JPEG frame from a second in (or the middle of a shorter video), at most 720 high."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise TranscodeFailed("ffmpeg is not installed")
    at = min(1.0, shape.duration / 2)
    height = min(720, shape.height - shape.height % 2)
    proc = await asyncio.create_subprocess_exec(
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-ss",
        f"{at:.3f}",
        "-i",
        str(source),
        "-frames:v",
        "1",
        "-vf",
        f"scale=-2:{height}",
        "-q:v",
        "4",
        str(out / POSTER),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    if proc.returncode != 0 or not (out / POSTER).is_file():
        raise TranscodeFailed(err.decode("utf-8", "replace").strip() or "no poster frame")
