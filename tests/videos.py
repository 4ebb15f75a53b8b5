"""Ready videos for tests that need one.

Stand-in until the upload pipeline lands: indexes the video for the feeds, as the pipeline
does when a video becomes ready (the stand-in `media.videos` reads that index).
"""

from __future__ import annotations

import uuid
from typing import Any

from media import videos
from media.feeds import index
from server.accounts.auth import decode_token
from server.keys import CLOCK, DB
from tests.conftest import Api


async def ready_video(api: Api, artist_token: str, **meta: Any) -> dict[str, Any]:
    """A ready video of the token's artist, with `meta` (title, realm, visibility, ...)."""
    artist = decode_token(api.app, artist_token).user_id
    now = api.app[CLOCK].now()
    video = videos.Video(
        id=uuid.uuid4(),
        artist_id=artist,
        title=meta.get("title", "Clip"),
        description=meta.get("description", ""),
        tags=tuple(meta.get("tags", ())),
        realm=meta.get("realm", "purgatorio"),
        visibility=meta.get("visibility", "public"),
        state="ready",
        progress=100,
        failure=None,
        duration_s=meta.get("duration_s", 10.0),
        width=320,
        height=240,
        created_at=meta.get("created_at", now),
        ready_at=meta.get("created_at", now),
    )
    async with api.app[DB].acquire() as conn, conn.transaction():
        await index.index(
            conn,
            index.FeedEntry(
                video_id=video.id,
                artist_id=video.artist_id,
                title=video.title,
                realm=video.realm,
                visibility=video.visibility,
                tags=video.tags,
                duration_s=video.duration_s,
                published_at=video.created_at,
            ),
        )
    return {
        "id": str(video.id),
        "artist_id": str(artist),
        "title": video.title,
        "realm": video.realm,
        "visibility": video.visibility,
        "state": video.state,
        "duration_s": video.duration_s,
    }
