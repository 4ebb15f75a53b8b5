"""Probing an uploaded file with PyAV: is it a whole, playable video, and what shape is it.

Blocking: call it from an executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av


class Refused(Exception):
    """The file is not a video we can publish; the message is the reason the artist sees."""


@dataclass(frozen=True)
class Probe:
    """What the transcode needs to know about the source."""

    duration: float
    width: int
    height: int
    has_audio: bool


def probe(path: Path) -> Probe:
    """The source's shape, or Refused with the reason (not media, no video, corrupt, truncated)."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        raise Refused("the file is not a readable video (unknown format or corrupt)") from None
    try:
        video = container.streams.video[0] if container.streams.video else None
        if video is None:
            kinds = sorted({s.type for s in container.streams})
            found = f" (it holds only {', '.join(kinds)})" if kinds else ""
            raise Refused(f"the file has no video stream{found}")
        width, height = int(video.width or 0), int(video.height or 0)
        if not width or not height:
            raise Refused("the video stream has no picture size")
        has_audio = any(s.type == "audio" for s in container.streams)
        declared = float(container.duration) / av.time_base if container.duration else 0.0
        frames, last = 0, 0.0
        try:
            # Every packet is read (cheap, nothing is decoded past the first frames): a file cut
            # short ends early or fails here, before any transcoding time is spent on it.
            for packet in container.demux(video):
                if packet.size == 0:
                    continue
                if packet.pts is not None and packet.time_base is not None:
                    last = max(last, float(packet.pts * packet.time_base))
                if frames < 3:
                    frames += len(packet.decode())
        except av.FFmpegError as exc:
            raise Refused(f"the video is corrupt or truncated ({exc.__class__.__name__})") from None
        if frames == 0:
            raise Refused("the video stream holds no decodable picture")
        start = (
            float(video.start_time * video.time_base)
            if video.start_time and video.time_base
            else 0.0
        )
        shown = max(0.0, last - start)
        if declared > 1.0 and shown < declared * 0.9 - 1.0:
            raise Refused(
                f"the video is truncated: it declares {declared:.1f} s but holds {shown:.1f} s"
            )
        duration = declared or shown
        if duration <= 0:
            raise Refused("the video has no duration")
        return Probe(round(duration, 3), width, height, has_audio)
    finally:
        container.close()
