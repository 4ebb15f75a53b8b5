"""A video as the API shows it, for every route that shows one."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from media.videos.video import Video
from server.keys import CONFIG
from server.wire import timestamp, timestamp_or_none


def video_json(
    app: web.Application, video: Video, likes: int = 0, views: int = 0
) -> dict[str, Any]:
    """The video's public fields; `likes` and `views` are the engagement module's counters."""
    poster = None
    if video.state == "ready":
        poster = f"{app[CONFIG].public_url}/api/videos/{video.id}/poster"
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
        "poster_url": poster,
        "created_at": timestamp(video.created_at),
        "ready_at": timestamp_or_none(video.ready_at),
        "likes": likes,
        "views": views,
    }
