"""Video settings from the environment, validated when the app is built."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from server.config import Config, env_number


@dataclass(frozen=True)
class VideoConfig:
    """Where the media store is, how big an upload may be, and how many transcodes run."""

    # Shared by every `mhc serve` and `mhc worker` (and read by nginx): uploads land in
    # `uploads/`, ready ladders live in `videos/<id>/`.
    media_dir: Path
    max_upload_bytes: int = 2 * 1024**3
    # The largest PATCH body nginx passes on (phones send a few MB at a time).
    max_chunk_bytes: int = 64 * 1024**2
    # An upload that received nothing for this long is removed with its video.
    upload_expiry_seconds: int = 24 * 3600
    # Transcodes running at once across every worker of the queue.
    transcodes: int = 2
    segment_seconds: int = 4

    @property
    def uploads_dir(self) -> Path:
        """Partial and complete uploads, named by upload id."""
        return self.media_dir / "uploads"

    @property
    def videos_dir(self) -> Path:
        """One folder per ready video: the master playlist, its rungs and the poster."""
        return self.media_dir / "videos"


def load(cfg: Config) -> VideoConfig:
    """Read MHC_MEDIA_DIR and MHC_VIDEO_* (ConfigError names a bad one)."""
    env = cfg.env
    raw = env.get("MHC_MEDIA_DIR", "").strip()
    media_dir = Path(raw).resolve() if raw else cfg.state_dir / "media"
    return VideoConfig(
        media_dir=media_dir,
        max_upload_bytes=env_number(env, "MHC_VIDEO_MAX_BYTES", 2 * 1024**3, 1, 2**50, int),
        max_chunk_bytes=env_number(
            env, "MHC_VIDEO_MAX_CHUNK_BYTES", 64 * 1024**2, 1024, 2**40, int
        ),
        upload_expiry_seconds=env_number(
            env, "MHC_VIDEO_UPLOAD_EXPIRY_SECONDS", 24 * 3600, 1, 365 * 86400, int
        ),
        transcodes=env_number(env, "MHC_VIDEO_TRANSCODES", 2, 1, 64, int),
        segment_seconds=env_number(env, "MHC_VIDEO_SEGMENT_SECONDS", 4, 1, 30, int),
    )
