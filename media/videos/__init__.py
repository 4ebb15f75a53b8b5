"""Videos: the typed video other packages receive, and who may see it.

Stand-in until the video pipeline lands, with the same signatures: a ready video is one the
pipeline has indexed for the feeds (`media.feeds.index`), so these read the feed index.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

import asyncpg

from media.feeds import index
from server.accounts import service as accounts
from server.errors import ApiError

Realm = Literal["inferno", "purgatorio", "paradiso"]
Visibility = Literal["public", "followers", "subscribers", "private"]
VideoState = Literal["uploading", "processing", "ready", "failed"]


@dataclass(frozen=True)
class Video:
    """A video as its owner package describes it."""

    id: uuid.UUID
    artist_id: uuid.UUID
    title: str
    description: str
    tags: tuple[str, ...]
    realm: Realm
    visibility: Visibility
    state: VideoState
    progress: int
    failure: str | None
    duration_s: float | None
    width: int | None
    height: int | None
    created_at: datetime
    ready_at: datetime | None


def _video(entry: index.FeedEntry) -> Video:
    return Video(
        id=entry.video_id,
        artist_id=entry.artist_id,
        title=entry.title,
        description="",
        tags=entry.tags,
        realm=cast(Realm, entry.realm),
        visibility=cast(Visibility, entry.visibility),
        state="ready",
        progress=100,
        failure=None,
        duration_s=entry.duration_s,
        width=None,
        height=None,
        created_at=entry.published_at,
        ready_at=entry.published_at,
    )


async def get(conn: asyncpg.Connection, video_id: uuid.UUID) -> Video | None:
    """A video that is not deleted, or None."""
    found = await index.entry(conn, video_id)
    return None if found is None else _video(found)


async def _may_see(conn: asyncpg.Connection, video: Video, viewer_id: uuid.UUID | None) -> bool:
    from media import follows

    if video.visibility == "public":
        return True
    if viewer_id is None:
        return False
    if video.artist_id == viewer_id:
        return True
    account = await accounts.find_account(conn, viewer_id)
    if account is not None and account.role == "admin":
        return True
    return video.visibility == "followers" and await follows.is_following(
        conn, viewer_id, video.artist_id
    )


async def viewable(
    conn: asyncpg.Connection, video_id: uuid.UUID, viewer_id: uuid.UUID | None
) -> Video:
    """A ready video the viewer may see, else 404 `video_not_found` (existence never leaks)."""
    video = await get(conn, video_id)
    if video is None or not await _may_see(conn, video, viewer_id):
        raise ApiError(404, "video_not_found", "video not found")
    return video


async def by_artist(
    conn: asyncpg.Connection,
    artist_id: uuid.UUID,
    viewer_id: uuid.UUID | None,
    *,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> list[Video]:
    """An artist's videos the viewer may see, newest first."""
    found: list[Video] = []
    while len(found) < limit:
        batch = await index.entries_by_artist(conn, artist_id, limit, before)
        for entry in batch:
            video = _video(entry)
            if await _may_see(conn, video, viewer_id):
                found.append(video)
        if len(batch) < limit:
            break
        before = (batch[-1].published_at, batch[-1].video_id)
    return found[:limit]
