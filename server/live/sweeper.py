"""The live package's periodic work on the job queue: end shows whose publisher left unheard.

nginx's `on_publish_done` is lost when it comes while the app is down; the event would stay
live with a claim nobody refreshes. Each tick runs in one worker across all processes.
"""

from __future__ import annotations

from aiohttp import web

from server import jobs
from server.jobs.registry import every
from server.live import service

END_STALE = "live.end_stale_publishers"
# nginx vouches every 30 s and a claim is stale after 90 s: a show ends at most ~2 min late.
INTERVAL_SECONDS = 30


def setup(app: web.Application) -> None:
    """Register the sweep."""
    jobs.schedule(app, END_STALE, every(INTERVAL_SECONDS), service.end_stale_publishers)
