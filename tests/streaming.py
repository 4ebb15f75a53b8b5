"""Shared helpers for tests that stream: ffmpeg as OBS, and polling with a deadline."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any


def obs_args(ffmpeg: str, output: str, seconds: int, *, realtime: bool) -> list[str]:
    """ffmpeg arguments that make what OBS sends: a test pattern and a tone as H.264/AAC FLV."""
    return [
        ffmpeg,
        "-hide_banner",
        "-loglevel",
        "error",
        *(["-re"] if realtime else ["-y"]),
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440",
        "-t",
        str(seconds),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "25",
        "-c:a",
        "aac",
        "-f",
        "flv",
        output,
    ]


@asynccontextmanager
async def obs(
    rtmp_url: str, key: str, seconds: int = 60
) -> AsyncIterator[asyncio.subprocess.Process]:
    """ffmpeg standing in for OBS: a synthetic test pattern and tone for at most `seconds`."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is installed by ./dev"
    proc = await asyncio.create_subprocess_exec(
        *obs_args(ffmpeg, f"{rtmp_url}/{key}", seconds, realtime=True),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


async def until(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    """Poll `check` until it returns something truthy, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
