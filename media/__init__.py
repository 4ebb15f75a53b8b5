"""Media processing: recordings to HLS VOD replays (PyAV, without re-encoding), and videos on
demand (resumable uploads, ffmpeg HLS ladders).

Public face: `setup(app)` registers replay packaging and the video routes and jobs;
`media.replays` answers where an event's replay is (`state`) for the packages that grant
access to it; `media.videos` holds the `Video` type and its reads for other packages.
"""

from __future__ import annotations

from aiohttp import web

from media import replays, videos


def setup(app: web.Application) -> None:
    """Plug replays and videos into the app."""
    replays.setup(app)
    videos.setup(app)


__all__ = ["setup"]
