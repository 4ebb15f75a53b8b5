"""Media processing: recordings to HLS VOD replays (PyAV, without re-encoding), videos on
demand (resumable uploads, ffmpeg HLS ladders), and the fan side of videos: feeds, views,
watch time, likes, comments, follows and artist analytics.

Public face: `setup(app)` registers replay packaging, the video routes and jobs, and the
engagement routes; `media.replays` answers where an event's replay is (`state`) for the
packages that grant access to it; `media.videos` holds the `Video` type and its reads for
other packages.
"""

from __future__ import annotations

from aiohttp import web

from media import engagement, replays, videos


def setup(app: web.Application) -> None:
    """Plug replays, videos, then feeds and engagement into the app."""
    replays.setup(app)
    videos.setup(app)
    engagement.setup(app)


__all__ = ["setup"]
