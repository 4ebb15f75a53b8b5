"""Media processing: recordings to HLS VOD replays (PyAV, without re-encoding), and the fan
side of videos: feeds, views, watch time, likes, comments, follows and artist analytics.

Public face: `setup(app)` registers replay packaging on the job queue and the engagement
routes; `media.replays` answers where an event's replay is (`state`) for the packages that
grant access to it.
"""

from __future__ import annotations

from aiohttp import web

from media import engagement, replays


def setup(app: web.Application) -> None:
    """Plug in replay packaging, then feeds and engagement."""
    replays.setup(app)
    engagement.setup(app)


__all__ = ["setup"]
