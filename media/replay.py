"""Remux nginx-rtmp FLV recordings into an HLS VOD replay with PyAV, without re-encoding.

nginx-rtmp writes `<stream>-<unix time>.flv` per publish (record_unique on); the stream name
is the event id after the publish hook renamed it. An event that reconnected has several
parts: each is remuxed on its own and the playlist joins them with EXT-X-DISCONTINUITY.
Blocking: call it from an executor.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import av

log = logging.getLogger(__name__)
PLAYLIST = "index.m3u8"
_PART = re.compile(r"^(?P<name>.+?)(?:-(?P<stamp>\d+))?\.flv$")


class ReplayError(Exception):
    """The recordings hold nothing playable."""


@dataclass(frozen=True)
class ReplayResult:
    """What was packaged."""

    directory: Path
    parts: int
    segments: int
    duration: float


def find_recordings(record_dir: Path, name: str) -> list[Path]:
    """The recordings of stream `name`, oldest first."""
    if not record_dir.is_dir():
        return []
    found: list[tuple[int, str, Path]] = []
    for path in record_dir.iterdir():
        match = _PART.match(path.name)
        if match and match.group("name") == name and path.is_file():
            found.append((int(match.group("stamp") or 0), path.name, path))
    return [p for _, _, p in sorted(found)]


def _remux(
    source: Path, out_dir: Path, prefix: str, segment_seconds: int
) -> list[tuple[float, str]]:
    """One recording to MPEG-TS segments; returns (duration, file) per segment."""
    try:
        container = av.open(str(source))
    except (av.FFmpegError, OSError):
        return []  # empty or unreadable (e.g. a publish that never sent media)
    part_playlist = out_dir / f"{prefix}{PLAYLIST}"
    try:
        inputs = [
            s
            for s in (
                next((s for s in container.streams if s.type == kind), None)
                for kind in ("video", "audio")
            )
            if s is not None
        ]
        if not inputs:
            return []
        out = av.open(
            str(part_playlist),
            "w",
            format="hls",
            options={
                "hls_time": str(segment_seconds),
                "hls_list_size": "0",
                "hls_playlist_type": "vod",
                "hls_segment_filename": str(out_dir / f"{prefix}%05d.ts"),
            },
        )
        muxed = 0
        try:
            mapping = {s.index: out.add_stream_from_template(s) for s in inputs}
            for packet in container.demux(inputs):
                if packet.dts is None or packet.pts is None or packet.size == 0:
                    continue
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
                muxed += 1
        except av.FFmpegError:
            if not muxed:  # a truncated tail still leaves the good part playable
                raise
        finally:
            # A truncated last packet fails the flush; the playlist below tells.
            with contextlib.suppress(av.FFmpegError):
                out.close()
    finally:
        container.close()
    if not muxed or not part_playlist.exists():
        return []
    entries: list[tuple[float, str]] = []
    duration = 0.0
    for line in part_playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#") and (out_dir / Path(line).name).is_file():
            entries.append((duration, Path(line).name))
    part_playlist.unlink()
    return entries


def _remux_or_skip(
    source: Path, out_dir: Path, prefix: str, segment_seconds: int
) -> list[tuple[float, str]]:
    """`_remux`, but a part that fails outright is logged and left out (with whatever it
    wrote), so one broken recording does not lose the good ones."""
    try:
        return _remux(source, out_dir, prefix, segment_seconds)
    except av.FFmpegError as exc:
        log.warning("skipping recording %s: %s", source.name, exc)
        for leftover in out_dir.glob(f"{prefix}*"):
            leftover.unlink(missing_ok=True)
        return []


def package(
    recordings: list[Path], replay_root: Path, name: str, segment_seconds: int = 4
) -> ReplayResult:
    """Write `replay_root/name/index.m3u8` and its segments; replaces an earlier replay whole."""
    replay_root.mkdir(parents=True, exist_ok=True)
    work = replay_root / f".{name}.tmp-{secrets.token_hex(4)}"
    work.mkdir(mode=0o755)
    try:
        parts = [
            e
            for e in (
                _remux_or_skip(rec, work, f"p{i}_", segment_seconds)
                for i, rec in enumerate(recordings)
            )
            if e
        ]
        if not parts:
            raise ReplayError("the recordings hold no playable media")
        target = max(math.ceil(d) for part in parts for d, _ in part)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{target}",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-PLAYLIST-TYPE:VOD",
        ]
        for i, part in enumerate(parts):
            if i:
                lines.append("#EXT-X-DISCONTINUITY")
            for duration, segment in part:
                lines += [f"#EXTINF:{duration:.6f},", segment]
        lines.append("#EXT-X-ENDLIST")
        (work / PLAYLIST).write_text("\n".join(lines) + "\n")
        final = replay_root / name
        old = replay_root / f".{name}.old-{secrets.token_hex(4)}"
        if final.exists():
            final.rename(old)
        work.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ReplayResult(
        final, len(parts), sum(len(p) for p in parts), round(sum(d for p in parts for d, _ in p), 3)
    )
