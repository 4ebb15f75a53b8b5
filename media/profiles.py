"""An artist's public profile: name, followers, whether the caller follows, videos, upcoming events."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from media import follows, videos
from media.videos.wire import video_json
from server.keys import DB
from server.live import service as live

PROFILE_VIDEOS = 20
UPCOMING_EVENTS = 20


async def profile(
    app: web.Application, artist_id: uuid.UUID, viewer: uuid.UUID | None
) -> dict[str, Any]:
    """The artist's profile as the viewer sees it, or 404 `artist_not_found`."""
    async with app[DB].acquire() as conn:
        name = await follows.ensure_artist(conn, artist_id)
        count = await follows.followers(conn, artist_id)
        following = viewer is not None and await follows.is_following(conn, viewer, artist_id)
        shown = await videos.by_artist(conn, artist_id, viewer, limit=PROFILE_VIDEOS, before=None)
    events = await live.listing(app, ("scheduled", "live"), UPCOMING_EVENTS, artist_id)
    return {
        "id": str(artist_id),
        "display_name": name,
        "followers": count,
        "following": following,
        "videos": [video_json(app, v) for v in shown],
        "upcoming_events": [e.to_json() for e in events],
    }
