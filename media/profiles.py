"""An artist's public profile: name, followers, whether the caller follows, videos, upcoming events."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from media import follows, videos
from server.keys import DB
from server.live import service as live
from server.wire import timestamp, timestamp_or_none

PROFILE_VIDEOS = 20
UPCOMING_EVENTS = 20


def video_json(video: videos.Video) -> dict[str, Any]:
    """A video as profiles show it."""
    return {
        "id": str(video.id),
        "artist_id": str(video.artist_id),
        "title": video.title,
        "description": video.description,
        "tags": list(video.tags),
        "realm": video.realm,
        "visibility": video.visibility,
        "state": video.state,
        "progress": video.progress,
        "failure": video.failure,
        "duration_s": video.duration_s,
        "width": video.width,
        "height": video.height,
        "created_at": timestamp(video.created_at),
        "ready_at": timestamp_or_none(video.ready_at),
    }


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
        "videos": [video_json(v) for v in shown],
        "upcoming_events": [e.to_json() for e in events],
    }
