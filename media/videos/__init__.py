"""Videos on demand: resumable uploads (tus), processing into an HLS ladder on the job queue,
gated playback through nginx, and the artist's metadata.

Public face for other packages: `Video` (and its `Realm`, `Visibility`, `VideoState`), `get`,
`viewable` and `by_artist`; `setup(app)` adds the routes and jobs.
"""

from __future__ import annotations

from aiohttp import web

from media.videos import config, processing
from media.videos.routes import routes
from media.videos.service import by_artist, get, viewable
from media.videos.video import Realm, Video, VideoState, Visibility
from server.keys import CONFIG

__all__ = [
    "Realm",
    "Video",
    "VideoState",
    "Visibility",
    "by_artist",
    "get",
    "setup",
    "viewable",
]


def setup(app: web.Application) -> None:
    """Register the video routes, the processing jobs and the upload expiry."""
    processing.setup(app, config.load(app[CONFIG]))
    app.router.add_routes(routes)
