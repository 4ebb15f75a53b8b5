"""Audio checks: the file is probed and decoded to its end with PyAV (blocking: run it in an
executor), so a truncated, corrupt, video or renamed file is refused with the reason."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import av

from distribution.errors import DistributionError

# Container (PyAV's format name) -> the codecs a store takes in it.
FORMATS: dict[str, frozenset[str]] = {
    "mp3": frozenset({"mp3", "mp3float"}),
    "wav": frozenset({"pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le"}),
    "flac": frozenset({"flac"}),
}
# Decoded audio may fall short of the declared length by encoder padding; more is a cut file.
_SHORT_TOLERANCE_S = 0.1


@dataclass(frozen=True)
class AudioInfo:
    """What decoding found: the container, codec, layout and the decoded length."""

    format: str
    codec: str
    sample_rate: int
    channels: int
    duration_ms: int
    bits_per_sample: int | None


def _refuse(code: str, reason: str) -> DistributionError:
    return DistributionError(code, f"audio: {reason}")


def _wav_declared(path: Path) -> float | None:
    """The length a WAV header declares: FFmpeg measures a cut file by what is there."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (wave.Error, EOFError, ZeroDivisionError):
        return None


def check(path: Path) -> AudioInfo:
    """Probe and fully decode `path`; DistributionError says why a file is refused."""
    if path.stat().st_size == 0:
        raise _refuse("invalid_audio", "the file is empty")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        raise _refuse("unsupported_audio", "not an audio file (MP3, WAV or FLAC)") from None
    with container:
        fmt = container.format.name.split(",")[0]
        if fmt not in FORMATS:
            raise _refuse("unsupported_audio", f"{fmt!r} is not MP3, WAV or FLAC")
        pictures = av.stream.Disposition.attached_pic
        if any(s.type == "video" and not (s.disposition & pictures) for s in container.streams):
            raise _refuse("unsupported_audio", "the file holds video")
        audio = container.streams.audio
        if len(audio) != 1:
            raise _refuse("invalid_audio", f"expected one audio stream, found {len(audio)}")
        stream = audio[0]
        codec = stream.codec_context.name
        if codec not in FORMATS[fmt]:
            raise _refuse("unsupported_audio", f"codec {codec} is not taken in {fmt}")
        rate = stream.codec_context.sample_rate or 0
        if rate <= 0:
            raise _refuse("invalid_audio", "no sample rate")
        declared: float | None = None
        if stream.duration is not None and stream.time_base is not None:
            declared = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            declared = container.duration / av.time_base
        if fmt == "wav":
            declared = _wav_declared(path) or declared
        samples = 0
        try:
            for frame in container.decode(stream):
                samples += frame.samples
        except av.FFmpegError as exc:
            at = samples / rate
            raise _refuse("invalid_audio", f"corrupt data at {at:.1f} s ({exc})") from None
        decoded = samples / rate
        if samples == 0:
            raise _refuse("invalid_audio", "no audio could be decoded")
        if declared is not None and decoded + _SHORT_TOLERANCE_S < declared:
            raise _refuse(
                "invalid_audio",
                f"truncated: the header declares {declared:.2f} s, only {decoded:.2f} s decode",
            )
        bits = stream.codec_context.format.bits or None
        return AudioInfo(
            format=fmt,
            codec=codec,
            sample_rate=rate,
            channels=stream.codec_context.channels,
            duration_ms=round(decoded * 1000),
            bits_per_sample=bits if fmt != "mp3" else None,
        )
